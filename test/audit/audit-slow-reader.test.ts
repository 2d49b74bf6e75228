import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sleep } from '../helpers/hostile.ts';
import { requestLine } from '../helpers/log-lines.ts';
import { outputOf, runGatehouse, SIDECAR_COMMAND, SIDECAR_ENV } from '../helpers/sidecar-process.ts';

// Every session of a month of logs, piped into a reader slower than the audit (a pager that reads
// only what it shows, gzip, a network copy). The answer was written as fast as sessions closed and
// queued in memory ahead of the reader, so memory grew with the answer (several GiB for a busy
// cluster's month). Now the audit reads on only as fast as its answer is taken.

const DAYS = 40;
const USERS = 20;
const REQUESTS = 60;
const T0 = Date.parse('2026-10-01T08:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-slow-reader-'));
const input = join(dir, 'month.log');
const lines: string[] = [];
for (let day = 0; day < DAYS; day++)
  for (let r = 0; r < REQUESTS; r++)
    for (let u = 0; u < USERS; u++) {
      const at = new Date(T0 + day * 86_400_000 + r * 30_000 + u).toISOString();
      lines.push(
        requestLine({
          start: at,
          end: at,
          requestId: `d${day}-u${u}-r${r}`,
          seq: r,
          uri: `/day-${day}/page-${r}`,
          identity: { kind: 'user', sub: `u${u}`, email: `user${u}@example.com`, idp: 'corp' },
          sessionId: `S-${day}-${u}`,
        }),
      );
    }
writeFileSync(input, `${lines.join('\n')}\n`);
// The same days, last first: not in time order, so it is sorted on temporary files.
const perDay = USERS * REQUESTS;
const backwards = join(dir, 'month-backwards.log');
writeFileSync(
  backwards,
  `${Array.from({ length: DAYS }, (_, d) => lines.slice((DAYS - 1 - d) * perDay, (DAYS - d) * perDay).join('\n')).join('\n')}\n`,
);

/** Bytes the process has read so far (its input, and its own code). */
const bytesRead = (pid: number): number =>
  Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? Number.NaN);

describe('gatehouse audit piped into a slow reader', () => {
  it('reads its input only as fast as its answer is taken, and the answer is whole', async () => {
    const child = spawn(
      process.execPath,
      [...SIDECAR_COMMAND, 'audit', 'sessions', '--format', 'jsonl', input],
      {
        env: SIDECAR_ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const pid = child.pid as number;
    // The reader takes nothing for two seconds: the pipe fills, the audit must wait.
    child.stdout.pause();
    await sleep(2_000);
    const size = statSync(input).size;
    expect(child.exitCode).toBeNull();
    // The input is read once to check its time order, then again for the answer: of that second
    // read, less than half.
    expect(bytesRead(pid)).toBeLessThan(size * 1.5);

    // Then it reads: the whole answer comes, one line per request.
    let received = 0;
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('utf8');
      const cut = text.lastIndexOf('\n');
      received += text.slice(0, cut + 1).split('\n').length - 1;
      tail = text.slice(cut + 1);
    });
    child.stdout.resume();
    const [code] = (await once(child, 'close')) as [number];
    expect(code).toBe(0);
    expect(received).toBe(DAYS * USERS * REQUESTS);
    expect(tail).toBe('');
  }, 60_000);

  it('every request (audit requests) comes as it is read, within a heap that cannot hold them all, in start order', async () => {
    // 48,000 requests: the answer held whole ran out of a 48 MiB heap.
    const args = ['audit', 'requests', '--path', '/*', '--format', 'jsonl'];
    const { code, stdout, stderr } = await runGatehouse([...args, input], undefined, [
      '--max-old-space-size=48',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const starts = stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { time: string }).time);
    expect(starts).toHaveLength(DAYS * USERS * REQUESTS);
    expect(starts).toEqual([...starts].sort());
    // The days last first: sorted on temporary files, the same answer.
    const fromBackwards = await runGatehouse([...args, backwards], undefined, ['--max-old-space-size=48']);
    expect(fromBackwards.code).toBe(0);
    expect(fromBackwards.stdout).toBe(stdout);
  }, 60_000);

  it.each(['jsonl', 'table', 'json', 'html'])(
    'an answer file that fails to be written (a full disk), %s: said in one line, status 1, no temporary file left',
    async (format) => {
      const temporary = mkdtempSync(join(tmpdir(), 'gatehouse-audit-tmpdir-'));
      const { code, stderr } = await outputOf(
        spawn(
          process.execPath,
          [...SIDECAR_COMMAND, 'audit', 'sessions', '--format', format, '-o', '/dev/full', backwards],
          { env: { ...SIDECAR_ENV, TMPDIR: temporary }, stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      );
      // The last line (an HTML page is written once its input is read and its notes given).
      expect(stderr.split('\n').slice(-2)).toEqual([
        'gatehouse audit: cannot write /dev/full: no space left on device',
        '',
      ]);
      expect(stderr).not.toMatch(/\n\s+at |ENOSPC.*\{/);
      expect(code).toBe(1);
      expect(readdirSync(temporary)).toEqual([]);
    },
    60_000,
  );
});

describe('an answer with a non-zero status, to a slow reader', () => {
  it('is written whole before the process exits (4: a partial answer, a compressed file cut short)', async () => {
    // The answer's last writes were still queued for the pipe when the process exited with its
    // status: a reader slower than the audit lost up to the last 16 KiB of the answer.
    const part = join(dir, 'part.log');
    writeFileSync(part, `${lines.slice(0, 400).join('\n')}\n`);
    const zipped = gzipSync(Buffer.from(`${lines.slice(400, 800).join('\n')}\n`));
    const cut = join(dir, 'cut.log.gz');
    writeFileSync(cut, zipped.subarray(0, zipped.length >> 1));
    const child = spawn(
      process.execPath,
      [...SIDECAR_COMMAND, 'audit', 'requests', '--app', 'corp/wiki', '--format', 'jsonl', part, cut],
      { env: SIDECAR_ENV, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // A reader that takes a chunk, then pauses: a pager, or a loaded machine.
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 150);
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'close')) as [number];
    expect(code).toBe(4);
    expect(stderr).toMatch(/the answer is partial.*\(exit status 4\)\n$/);
    const answer = Buffer.concat(chunks).toString().trimEnd().split('\n');
    // Every request of the whole file, and those of the lines whole before the cut.
    const beforeCut = gunzipSync(zipped.subarray(0, zipped.length >> 1), {
      finishFlush: constants.Z_SYNC_FLUSH,
    })
      .toString()
      .split('\n')
      .slice(0, -1);
    const uri = (line: string) => (JSON.parse(line) as { uri: string }).uri;
    expect(answer.map(uri).sort()).toEqual([...lines.slice(0, 400), ...beforeCut].map(uri).sort());
  }, 60_000);
});
