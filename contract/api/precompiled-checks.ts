/**
 * Checks generated ahead of time for the schemas a sidecar checks as it starts. The shipped bundle
 * replaces this module with TypeBox's compiled code for each of them (scripts/precompiled-checks.ts,
 * through scripts/bundle-settings.ts), so a built sidecar neither interprets nor compiles a schema
 * to check its config; run from source, there are none and schemas are checked as before.
 */
export function precompiledCheck(_schema: object): ((value: unknown) => boolean) | undefined {
  return undefined;
}
