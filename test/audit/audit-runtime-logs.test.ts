import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIDECAR_NODE_ENV } from '../../contract/sidecar-node-options.ts';
import { eventually, openRaw } from '../helpers/hostile.ts';
import { conmonLog, containerdLog } from '../helpers/runtime-log.ts';
import {
  applicationYaml,
  GATEHOUSE_BIN,
  runGatehouse,
  TEST_SHUTDOWN_DELAY,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// What a node keeps of a sidecar's output is what its container runtime made of it: CRI-O cuts
// a line wherever one read of the container's pipe ends (8 KiB reads, and the sidecar writes its
// lines in batches), containerd cuts every line longer than 16 KiB. The audit of those files
// must find every request, the long ones a client made on purpose included.

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-runtime-'));
const REQUESTS = 400;
/** A client's request built to make its line longer than 16 KiB (each C1 byte is `\u0085` in the line). */
const C1 = Buffer.alloc(1_000, 0x85);

let upstream: TestUpstream;
let output: Buffer;

/** Runs the built sidecar with its stdout on a file (as a runtime's pipe would be), and returns what it wrote. */
async function sidecarOutput(): Promise<Buffer> {
  const config = writeConfigDir(
    applicationYaml({
      hosts: ['127.0.0.1'],
      upstream: { url: upstream.url },
      logging: { requestHeaders: ['x-team', 'x-ticket'] },
    }),
  );
  const stdout = join(dir, 'sidecar.out');
  const fd = openSync(stdout, 'w');
  const child = spawn(
    process.execPath,
    [
      GATEHOUSE_BIN,
      'sidecar',
      '--config',
      config,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      ...TEST_SHUTDOWN_DELAY,
    ],
    { stdio: ['ignore', fd, 'inherit'], env: { ...process.env, ...SIDECAR_NODE_ENV } },
  );
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let port = 0;
  await eventually(
    'the sidecar started',
    () => {
      const started = readFileSync(stdout, 'utf8').match(
        /"type":"sidecar_started".*"listen":"127\.0\.0\.1:(\d+)"/,
      );
      port = Number(started?.[1] ?? 0);
      return port > 0;
    },
    10_000,
  );
  // Many short requests on kept-alive connections (their lines go out in batches), and among them
  // one a client made as long as it could.
  for (let n = 0; n < REQUESTS; n++) {
    const client = await openRaw(port);
    const head =
      n === REQUESTS / 2
        ? Buffer.concat([
            Buffer.from(`GET /hostile?q=${'"'.repeat(4_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: `),
            C1,
            Buffer.from('\r\nX-Team: '),
            C1,
            Buffer.from('\r\nX-Ticket: '),
            C1,
            Buffer.from('\r\nConnection: close\r\n\r\n'),
          ])
        : Buffer.from(`GET /page-${n} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    client.socket.write(head);
    await client.closed;
  }
  child.kill('SIGTERM');
  await exited;
  return readFileSync(stdout);
}

beforeAll(async () => {
  upstream = await startUpstream();
  output = await sidecarOutput();
}, 120_000);
afterAll(async () => {
  await upstream?.close();
});

describe('gatehouse audit reads the log files of the node', () => {
  it('has a request line longer than containerd keeps in one record', () => {
    const longest = Math.max(
      ...output
        .toString()
        .split('\n')
        .map((line) => Buffer.byteLength(line)),
    );
    expect(longest).toBeGreaterThan(16_384);
  });

  it.each([
    ['CRI-O (8 KiB reads)', () => conmonLog(output)],
    ['containerd (16 KiB records)', () => containerdLog(output)],
  ])('finds every request in what %s wrote', async (_runtime, frame) => {
    const file = join(dir, `${Math.random()}.log`);
    const framed = frame();
    writeFileSync(file, framed);
    expect(framed.toString()).toMatch(/ stdout P /); // the runtime split some line
    const all = await runGatehouse(['audit', 'requests', '--app', 'proc-app', '--format', 'jsonl', file]);
    expect(all.stderr).toBe('');
    const uris = all.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { uri: string }).uri);
    expect(uris).toHaveLength(REQUESTS);
    // Searched by path: the long line is found with every byte the client sent.
    const hostile = await runGatehouse(['audit', 'requests', '--path', '/hostile', '--format', 'json', file]);
    const [request] = JSON.parse(hostile.stdout) as { uri: string; userAgent: string }[];
    expect(request?.uri).toBe(`/hostile?q=${'"'.repeat(4_000)}`);
    expect(request?.userAgent).toBe(C1.toString('latin1'));
  });
});
