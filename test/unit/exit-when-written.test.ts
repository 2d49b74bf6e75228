import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// A command that ends with a non-zero status while its reader is behind: what a pipe did not take
// yet (past its 64 KiB) was dropped by process.exit. Seen as an audit's partial answer (status 4)
// missing its last lines on a loaded machine.

const LIB = resolve(import.meta.dirname, '../../lib/exit-when-written.ts');

/**
 * Runs a process that writes 3 × 64 KiB and 10,000 bytes to stdout and a line to stderr, then
 * ends with status 4 by `how`, its stdout piped (pipe(2), as a shell does) into a reader that
 * starts a second later. Returns its status, the bytes the reader got, and its stderr.
 */
async function endedBy(
  how: 'exitWhenWritten' | 'process.exit',
): Promise<{ code: number; out: number; err: string }> {
  const script = `
    import { exitWhenWritten } from ${JSON.stringify(LIB)};
    for (let i = 0; i < 3; i++) process.stdout.write(Buffer.alloc(64 * 1024, 0x61));
    process.stdout.write(Buffer.alloc(10_000, 0x62));
    process.stderr.write('the answer is partial\\n');
    ${how === 'exitWhenWritten' ? 'void exitWhenWritten(4);' : 'setImmediate(() => process.exit(4));'}
  `;
  const shell = spawn(
    'bash',
    ['-c', 'node --input-type=module -e "$SCRIPT" | (sleep 1; wc -c); echo "status ${PIPESTATUS[0]}"'],
    { env: { ...process.env, SCRIPT: script }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  shell.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  shell.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  await once(shell, 'close');
  const [bytes = '', status = ''] = out.trim().split('\n');
  return { code: Number(status.replace('status ', '')), out: Number(bytes.trim()), err };
}

describe('exitWhenWritten', () => {
  it('ends with the status once stdout and stderr have handed on everything written', async () => {
    expect(await endedBy('exitWhenWritten')).toEqual({
      code: 4,
      out: 3 * 64 * 1024 + 10_000,
      err: 'the answer is partial\n',
    });
  });

  it('where process.exit at once loses what the pipe had not taken (the case it is for)', async () => {
    const lost = await endedBy('process.exit');
    expect(lost.code).toBe(4);
    expect(lost.out).toBeLessThan(3 * 64 * 1024 + 10_000);
  });
});
