/** Work-queue keys are <prefix>:<target>; the prefix says what kind of object, a label of the reconcile metrics. */
export const KINDS = {
  app: 'AccessApplication',
  policy: 'AccessPolicy',
  revocation: 'AccessRevocation',
  deploy: 'Deployment',
  webhook: 'MutatingWebhookConfiguration',
  tls: 'Secret',
  /** An application's pods without the sidecar (its Protected condition). */
  protection: 'Pod',
} as const;

export type KeyPrefix = keyof typeof KINDS;

/** The prefix of a work-queue key. */
export const prefixOf = (key: string): KeyPrefix => key.slice(0, key.indexOf(':')) as KeyPrefix;

/** The kind a work-queue key is about. */
export function kindOf(key: string): string {
  return KINDS[prefixOf(key)] ?? 'unknown';
}
