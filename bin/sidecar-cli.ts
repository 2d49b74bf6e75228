// `gatehouse sidecar`: the command line of the sidecar alone. The build bundles it apart from every
// other command (scripts/build.ts), so that a sidecar loads a few modules of its own instead of
// the chunks it would share with them: 35 modules to resolve and load at every start, which
// also made V8 optimise Node's path code with its top tier while the sidecar started (2.5 MiB more
// of the node binary resident, docs/benchmarks.md).
import { runSidecarCommand } from '../sidecar/src/cli/sidecar-command.ts';
import { SIDECAR_USAGE } from '../sidecar/src/cli/sidecar-flags.ts';
import { type Commands, runCommandLine } from './run-command-line.ts';

const SIDECAR: Commands = {
  sidecar: async () => ({ usage: SIDECAR_USAGE, run: runSidecarCommand }),
};

runCommandLine(SIDECAR);
