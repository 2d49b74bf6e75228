import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A dialer in a process of its own: told "go", it opens `count` connections to the port (from
 * 127.6.x.y), waits `waitMs`, and reports how many handshakes completed meanwhile.
 */
const DIALER = `
const { connect } = require('node:net');
const [port, count, waitMs] = process.argv.slice(1).map(Number);
const sockets = [];
let connected = 0;
process.stdin.once('data', () => {
  for (let i = 0; i < count; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.6.' + Math.floor(i / 250) + '.' + (1 + (i % 250)) });
    s.on('error', () => {});
    s.once('connect', () => connected++);
    sockets.push(s);
  }
  setTimeout(() => {
    process.stdout.write(JSON.stringify({ connected }) + '\\n', () => {
      for (const s of sockets) s.destroy();
      process.exit(0);
    });
  }, waitMs);
});
process.stdout.write('ready\\n');
`;

/**
 * How many of `count` handshakes to the port complete within `waitMs` while this process's event
 * loop is blocked (so a server in this process accepts none of them meanwhile): what the kernel's
 * listen queue holds for it. The loop is blocked a second longer than the dialer waits.
 */
export async function handshakesWhileBlocked(port: number, count: number, waitMs: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', DIALER, String(port), String(count), String(waitMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  if ((await lines.next()).value !== 'ready') throw new Error('the dialer did not start');
  child.stdin.write('go\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs + 1_000);
  const report = (await lines.next()).value as string | undefined;
  child.stdin.end();
  if (report === undefined) throw new Error('the dialer reported nothing');
  return (JSON.parse(report) as { connected: number }).connected;
}
