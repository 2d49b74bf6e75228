/**
 * The Node.js options the sidecar's memory bound depends on, defined once. A small young
 * generation keeps memory flat while streaming large bodies: without it V8 lets ~50 MB of
 * short-lived chunk garbage accumulate before collecting. V8 reads the option only at start, so
 * it travels in NODE_OPTIONS: the image sets it (Dockerfile `ENV`, checked against this constant
 * by a test), the injection webhook sets it on the sidecar container, and `gatehouse sidecar`
 * started without it says so in its first lines.
 */
export const SIDECAR_NODE_OPTIONS = '--max-semi-space-size=1';

/** The environment entry that carries SIDECAR_NODE_OPTIONS to a new sidecar process. */
export const SIDECAR_NODE_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: SIDECAR_NODE_OPTIONS,
});

/** True when every option of SIDECAR_NODE_OPTIONS is in effect for this process. */
export function sidecarNodeOptionsApplied(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((o) => o.replace(/_/g, '-')));
  return SIDECAR_NODE_OPTIONS.split(/\s+/).every((option) => given.has(option));
}
