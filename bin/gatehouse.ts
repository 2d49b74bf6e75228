#!/usr/bin/env node
// The gatehouse command (also kubectl-gatehouse). It checks the Node.js version before loading
// anything, so that an older Node says in one line what to do instead of failing on the first
// module it cannot load.
const NEEDED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED_MAJOR) {
  process.stderr.write(
    `gatehouse: Node.js ${NEEDED_MAJOR} or later is needed, this is Node.js ${process.version}: install Node.js ${NEEDED_MAJOR} (https://nodejs.org, or nvm install ${NEEDED_MAJOR}) and put it first on PATH\n`,
  );
  process.exit(1);
}
// The sidecar is a bundle of its own (bin/sidecar-cli.ts); every other command is in gatehouse-cli.
if (process.argv[2] === 'sidecar') await import('./sidecar-cli.ts');
else await import('./gatehouse-cli.ts');
