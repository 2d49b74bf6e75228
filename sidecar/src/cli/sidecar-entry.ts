/**
 * What `gatehouse sidecar` runs: its usage and the command. The shipped bundle builds the sidecar
 * from this module into one script of its own (scripts/build.ts, dist/bin/sidecar-script.js) that
 * runs with V8's code cache of what it compiled while the image was built (bin/sidecar-module.ts).
 */
export { runSidecarCommand } from './sidecar-command.ts';
export { SIDECAR_USAGE } from './sidecar-flags.ts';
