/**
 * Ends the process with `code` once everything already written to stdout and stderr is out. A
 * pipe takes 64 KiB; past that, Node.js queues what is written and sends it as the reader takes
 * it, and process.exit drops that queue: a command ending with a non-zero status (an audit's
 * partial answer, 4) lost the last lines of its answer when its reader was behind (a pager, a
 * loaded machine). Never resolves when a reader never reads again, as a command ending with 0
 * waits for it too.
 */
export async function exitWhenWritten(code: number): Promise<never> {
  await Promise.all([written(process.stdout), written(process.stderr)]);
  process.exit(code);
}

/** Resolves once every write already made to `stream` has been handed on (at once when none waits). */
function written(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed || stream.writableEnded) return Promise.resolve();
  // Writes go out in order: the callback of an empty one comes after all before it.
  return new Promise((resolve) => stream.write('', () => resolve()));
}
