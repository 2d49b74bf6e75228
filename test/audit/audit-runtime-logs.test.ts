import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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

/**
 * A runtime's log cut into the files the kubelet makes of it when it rotates: each cut falls just
 * after a `P` record, so the line being written goes on in the next file. Returns the pieces.
 */
function rotatedPieces(framed: Buffer, pieces: number): Buffer[] {
  const cuts: number[] = [];
  const partEnds: number[] = [];
  for (let at = framed.indexOf(' stdout P '); at !== -1; at = framed.indexOf(' stdout P ', at + 1))
    partEnds.push(framed.indexOf(0x0a, at) + 1);
  for (let n = 1; n < pieces; n++) cuts.push(partEnds[Math.floor((partEnds.length * n) / pieces)] as number);
  return [0, ...cuts].map((start, i) => framed.subarray(start, cuts[i] ?? framed.length));
}

/** Lays the pieces out as a pod's log directory: rotated files (the older ones compressed), then 0.log. */
function writeRotation(pieces: Buffer[], extra: (dir: string) => void = () => undefined): string {
  const logDir = join(dir, `pods-${Math.random()}`, 'team_wiki-7d9f_0c1d', 'gatehouse');
  mkdirSync(logDir, { recursive: true });
  const rotatedCount = pieces.length - 1;
  for (const [i, piece] of pieces.entries()) {
    if (i === rotatedCount) writeFileSync(join(logDir, '0.log'), piece);
    else {
      // The newest rotated file stays plain; the older ones are compressed.
      const name = `0.log.20261121-07000${i}`;
      if (i === rotatedCount - 1) writeFileSync(join(logDir, name), piece);
      else writeFileSync(join(logDir, `${name}.gz`), gzipSync(piece));
    }
  }
  extra(logDir);
  return logDir;
}

async function requestUris(args: string[]): Promise<{ uris: string[]; stderr: string; code: number | null }> {
  const out = await runGatehouse(['audit', 'requests', '--app', 'proc-app', '--format', 'jsonl', ...args]);
  const uris = out.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { uri: string }).uri);
  return { uris, stderr: out.stderr, code: out.code };
}

describe('gatehouse audit reads a log the kubelet rotated', () => {
  const pieces = () => rotatedPieces(conmonLog(output), 4);

  it('joins the line cut across each rotation: the directory, or its files in any order', async () => {
    const logDir = writeRotation(pieces());
    // Each rotated file ends in the part of a line that the next file ends.
    for (const piece of pieces().slice(0, -1))
      expect(piece.toString().split('\n').at(-2)).toMatch(/^\S+ stdout P /);
    const whole = await requestUris([logDir]);
    expect(whole.stderr).toBe('');
    expect(whole.uris).toHaveLength(REQUESTS);
    expect(new Set(whole.uris).size).toBe(REQUESTS);
    // As a shell expands 0.log*: the live file first.
    const files = ['0.log', '0.log.20261121-070000.gz', '0.log.20261121-070001.gz', '0.log.20261121-070002'];
    const given = await requestUris(files.map((name) => join(logDir, name)));
    expect(given.uris).toEqual(whole.uris);
    const reversed = await requestUris(files.reverse().map((name) => join(logDir, name)));
    expect(reversed.uris).toEqual(whole.uris);
  });

  it('reads a rotated file once when copied while the kubelet compressed it', async () => {
    const all = pieces();
    const logDir = writeRotation(all, (at) =>
      writeFileSync(join(at, '0.log.20261121-070002.gz'), gzipSync(all[2] as Buffer)),
    );
    const { uris, stderr } = await requestUris([logDir]);
    expect(stderr).toBe('');
    expect(uris).toHaveLength(REQUESTS);
  });

  it('reads on past a compressed file cut short, and says which', async () => {
    const all = pieces();
    const logDir = writeRotation(all, (at) => {
      const zipped = gzipSync(all[1] as Buffer);
      writeFileSync(join(at, '0.log.20261121-070001.gz'), zipped.subarray(0, zipped.length >> 1));
    });
    const { uris, stderr, code } = await requestUris([logDir]);
    expect(code).toBe(4);
    expect(stderr).toContain('0.log.20261121-070001.gz: the file ends early');
    // Every request of the files before and after the cut one is found.
    const lost = all[1]?.toString().match(/"type":"request"/g)?.length ?? 0;
    expect(uris.length).toBeGreaterThanOrEqual(REQUESTS - lost - 1);
    expect(uris).toContain(`/page-${REQUESTS - 1}`);
  });

  it('says which compressed file it cannot open, without a stack trace', async () => {
    const missing = join(dir, 'gone', '0.log.20261121-070000.gz');
    const { stderr, code } = await requestUris([missing]);
    expect(code).toBe(1);
    expect(stderr).toContain(missing);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
