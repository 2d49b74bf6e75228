import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { logEvent } from '../../../contract/event-writer.ts';
import { fileErrorText } from '../../../lib/file-error-text.ts';
import type { LogSink } from '../../../lib/log/log-sink.ts';
import type { SessionEndReporter } from '../auth/session-ends.ts';
import { openSessionEndsFile, type SessionEndsFile } from '../auth/session-ends-file.ts';
import { directoryReporter, operatorReporter } from '../config/session-end-reporters.ts';
import type { SidecarFlags } from './sidecar-flags.ts';

/**
 * Where this sidecar's session ends go beyond itself: the operator, the shared directory, or
 * nowhere. With the directory, `onSessionEndAccounts` is for the config source: it tells, at each
 * load, how many session ends in force name each account (SESSION_ENDS_PER_ACCOUNT).
 */
export async function sessionEndReporter(
  flags: SidecarFlags,
  /** The operator's CA certificates (cluster mode). */
  operatorTrust: string,
  current: () => SidecarConfig | undefined,
): Promise<{
  reporter?: SessionEndReporter;
  onSessionEndAccounts?: (counts: ReadonlyMap<string, number>) => void;
}> {
  const operator = flags.operator;
  if (operator)
    return {
      reporter: operatorReporter({
        url: operator.url,
        ca: operatorTrust,
        tokenFile: operator.tokenFile,
      }),
    };
  if (flags.revocationsDir) {
    let accountEnds: ReadonlyMap<string, number> = new Map();
    return {
      reporter: directoryReporter(
        flags.revocationsDir,
        () => current()?.auth.session.absoluteMs ?? 0,
        () => current()?.revocations.length ?? 0,
        (account) => accountEnds.get(account) ?? 0,
      ),
      onSessionEndAccounts: (counts) => {
        accountEnds = counts;
      },
    };
  }
  return {};
}

/**
 * Opens `--session-ends-file`; a path the sidecar cannot read or write stops it at start (exit
 * 1, the path and the error on stderr): a sidecar that would forget its sign-outs at its next
 * restart does not serve.
 */
export function openEndsFile(path: string, sink: LogSink): SessionEndsFile {
  try {
    return openSessionEndsFile(path, {
      onError: (error) => logEvent(sink, 'session_ends_file_failed', { path, error: error.message }),
    });
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    throw Object.assign(new Error(`--session-ends-file ${path}: ${fileErrorText(error)}`), { code, path });
  }
}
