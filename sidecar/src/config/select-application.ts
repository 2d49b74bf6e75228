import type { AssertionAlgorithm } from '../../../contract/api/authentication.ts';
import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import type { FieldError } from '../../../contract/errors.ts';

/** Which application of the files to serve; required only when the files define several. */
export interface SelectApplication {
  readonly application?: string;
  /** Keys to use when the files hold no keys Secret for the application (generated per process). */
  readonly fallbackKeys?: (algorithm: AssertionAlgorithm) => ApplicationKeys;
  /** The time revocations are judged at (which have expired); now by default. */
  readonly now?: () => Date;
  /**
   * Where a malformed AccessRevocation document goes. Given (the running sidecar), it is reported
   * and skipped, so one bad file in a shared directory cannot hold back the others; absent
   * (gatehouse validate), it is an error like any other.
   */
  readonly onInvalidRevocation?: (problem: FieldError) => void;
  /**
   * Given (gatehouse validate --secrets-in-cluster, gatehouse explain), the Secrets the files do
   * not hold are taken to be in the cluster: stood in for (secrets-elsewhere.ts), and their names
   * told here once the application is chosen. Absent (the sidecar), each is an error.
   */
  readonly onSecretsElsewhere?: (names: readonly string[]) => void;
  /**
   * Given (a standalone sidecar that writes its session ends into the revocations directory),
   * told at each load how many session ends in force for the chosen application name each
   * account (SESSION_END_ACCOUNT_LABEL): its bound per account (SESSION_ENDS_PER_ACCOUNT).
   */
  readonly onSessionEndAccounts?: (counts: ReadonlyMap<string, number>) => void;
}

/** Whether `--application` (`namespace/name`, or a name in any namespace) names this application. */
export function isApplicationWanted(
  wanted: string,
  metadata: { name?: unknown; namespace?: unknown } | undefined,
): boolean {
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : '';
  return wanted.includes('/')
    ? `${namespace}/${String(metadata?.name)}` === wanted
    : metadata?.name === wanted;
}
