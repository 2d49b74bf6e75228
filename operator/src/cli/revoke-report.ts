/** What `gatehouse revoke` says: the result as text, JSON or a name, and on stderr what is not confirmed. */
import { writeFileSync } from 'node:fs';
import type { AccessRevocationStatus } from '../../../contract/api/access-revocation.ts';
import type { KubeObject } from '../../../lib/kube/kube-object.ts';
import type { SidecarsConfirmation } from './revocation-sidecars.ts';
import type { RevokeReportFlags, RevokeTarget } from './revoke-flags.ts';

/** What became of the revocation while the command waited. */
export type Outcome = 'enforced' | 'expired' | 'unconfirmed' | 'created';

/** The running sidecars' confirmation, or why there is none. */
export type SidecarsReport =
  | ({
      readonly checked: true;
      readonly running: number;
      /** Pods of the covered applications that serve without the sidecar (CoveredPods). */
      readonly withoutSidecar: readonly string[];
    } & SidecarsConfirmation)
  | { readonly checked: false; readonly reason: string };

/** Up to `most` names, then how many more. */
function someOf(names: readonly string[], most = 5): string {
  const shown = names.slice(0, most).join(', ');
  return names.length > most ? `${shown} and ${names.length - most} more` : shown;
}

/** The sentence for the sidecars that applied it (text format). */
function sidecarsSentence(report: SidecarsReport): string {
  if (!report.checked) return '';
  if (report.running === 0)
    return 'No sidecar of the covered applications is running now; one that starts gets it with its first config.\n';
  const applied = report.applied.length;
  const pods = (n: number) => `${n} running sidecar${n === 1 ? '' : 's'}`;
  const deleted = report.gone.length > 0 ? ` (${report.gone.length} deleted meanwhile)` : '';
  if (report.pending.length === 0)
    return `Applied by every running sidecar: ${pods(applied)}${deleted} (${someOf(report.applied.map((s) => s.pod))}).\n`;
  return `Applied by ${applied} of ${pods(report.running - report.gone.length)}${deleted}.\n`;
}

/** Standard error's account of the sidecars that did not apply it, and what to do about each. */
export function pendingSidecarsText(
  report: SidecarsReport & { checked: true },
  /** How long the sidecars had. */
  withinMs: number,
  name: string,
): string {
  const n = report.pending.length;
  const running = report.running - report.gone.length;
  const lines = report.pending.map((s) => {
    const [namespace, pod] = s.pod.split('/');
    if (s.unread)
      return `  ${s.pod} (${s.application}): its log was not read before --wait ran out (give a longer --wait)\n`;
    const state = s.error
      ? `its log could not be read: ${s.error}`
      : s.ready
        ? 'ready, without it: its config stream is likely down (its config_stream_disconnected lines, GatehouseConfigStale)'
        : 'not ready: it has no config yet, and applies it with its first';
    return `  ${s.pod} (${s.application}): ${state}\n    to end its sessions now: kubectl delete pod -n ${namespace} ${pod}\n`;
  });
  return `gatehouse revoke: ${n} of ${running} running sidecar${running === 1 ? '' : 's'} did not write that ${n === 1 ? 'it' : 'they'} applied it within ${withinMs / 1000}s; the sessions it covers go on there until ${n === 1 ? 'it applies' : 'they apply'} it (the AccessRevocation stays; confirm again with gatehouse revoke --check ${name}):\n${lines.join('')}`;
}

/** Standard error's warning of the pods that serve the covered applications without the sidecar. */
export function withoutSidecarText(pods: readonly string[]): string {
  const one = pods.length === 1;
  return `gatehouse revoke: ${pods.length} pod${one ? '' : 's'} of the covered applications run${one ? 's' : ''} without the Gatehouse sidecar, so anyone reaches the application through ${one ? 'it' : 'them'} with no sign-in at all, and no revocation ends anything there: ${someOf(pods, 10)}. Delete ${one ? 'it' : 'them'} to have ${one ? 'it' : 'them'} made again with the sidecar (the application's Protected condition; docs/troubleshooting.md).\n`;
}

/** The result as the format asks: the object's name, JSON, or sentences for a person. */
export function resultText(
  format: RevokeReportFlags['format'],
  object: KubeObject,
  target: RevokeTarget,
  user: string,
  outcome: Outcome,
  isNew: boolean,
  sidecars?: SidecarsReport,
): string {
  const name = object.metadata.name;
  if (format === 'name') return `accessrevocation.gatehouse.dev/${name}\n`;
  if (format === 'json')
    return `${JSON.stringify({ name, user, outcome, spec: object.spec, status: object.status ?? null, ...(sidecars ? { sidecars } : {}) })}\n`;
  const status = object.status as AccessRevocationStatus | undefined;
  const apps = status?.applications ?? [];
  let text = `accessrevocation.gatehouse.dev/${name}${isNew ? ' created' : ''}\n`;
  if (outcome === 'enforced' && status) {
    const where = `${apps.length} application${apps.length === 1 ? '' : 's'}${apps.length > 0 ? `: ${apps.join(', ')}` : ''}`;
    text +=
      `${endedSentence(target, user, status.revokedBefore)} ${where}.\n` +
      `The revocation expires at ${status.expiresAt}, when no session it covers can still be alive.\n` +
      (sidecars ? sidecarsSentence(sidecars) : '');
  } else if (outcome === 'expired') {
    text +=
      'It was deleted at once: no session it covers can still be alive (its cut-off is older than every covered session lifetime, or no covered application signs anyone in).\n';
  }
  return text;
}

/**
 * The start of the sentence that says which sessions end, up to where: "… are ended in" once the
 * operator confirmed it, "… end in" for a file the sidecars have yet to read.
 */
export function endedSentence(
  target: RevokeTarget,
  who: string,
  revokedBefore: string | undefined,
  confirmed = true,
): string {
  if ('session' in target) return `Session ${target.session} ${confirmed ? 'is ended' : 'ends'} in`;
  const verb = confirmed ? 'are ended in' : 'end in';
  if ('providerSession' in target)
    return `Sessions signed in through ${who} at or before ${revokedBefore} ${verb}`;
  return `Sessions of ${who} signed in at or before ${revokedBefore} ${verb}`;
}

/** Writes the result to --output, or standard output. */
export function writeResult(flags: RevokeReportFlags, text: string): void {
  if (flags.output !== undefined) writeFileSync(flags.output, text);
  else process.stdout.write(text);
}
