// Run before the npm scripts (demo, gatehouse, test): on a Node.js older than 24 it prints one
// line saying what to run instead of the error of the first .ts file Node cannot load. Plain
// JavaScript that every Node.js version runs.
const NEEDED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED_MAJOR) {
  process.stderr.write(
    `gatehouse: Node.js ${NEEDED_MAJOR} or later is needed, this is Node.js ${process.version}: run "source scripts/ensure-node.sh" (it installs Node.js ${NEEDED_MAJOR} into ~/.cache/gatehouse and puts it on PATH), then run the command again\n`,
  );
  process.exit(1);
}
