import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestLine } from '../helpers/log-lines.ts';
import { type CommandOutput, outputOf, SIDECAR_COMMAND, SIDECAR_ENV } from '../helpers/sidecar-process.ts';

// An analyst's directory of logs often holds a file per pod and rotation: thousands of files.
// The audit opened every one at once, and failed with EMFILE where a process may open 1,024 files
// (256 by default on macOS). Here the process may open 96, and 300 files overlap in time, so that
// no order of opening them gets by with fewer open at once.

const FILES = 300;
const LINES_PER_FILE = 8;
const OPEN_FILES_LIMIT = 96;
const T0 = Date.parse('2026-11-21T07:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-many-'));

/** The pod's lines: two users' requests, every pod's interleaved in time with every other's. */
function podLines(pod: number): string[] {
  return Array.from({ length: LINES_PER_FILE }, (_, n) => {
    const user = (pod + n) % 2 === 0 ? 'ada' : 'grace';
    const at = new Date(T0 + n * 60_000 + pod * 10).toISOString();
    return requestLine({
      start: at,
      end: at,
      requestId: `p${pod}-r${n}`,
      seq: n,
      uri: `/pod-${pod}/page-${n}`,
      identity: { kind: 'user', sub: user, email: `${user}@example.com`, idp: 'corp' },
      sessionId: `S-${user}`,
    });
  });
}

const files = Array.from({ length: FILES }, (_, pod) => {
  const path = join(dir, `pod-${String(pod).padStart(3, '0')}.log`);
  writeFileSync(path, `${podLines(pod).join('\n')}\n`);
  return path;
});
// The same lines in one file, several sidecars' out of time order: sorted on temporary files.
const everything = join(dir, 'everything.log');
writeFileSync(everything, `${files.flatMap((_, pod) => podLines(pod)).join('\n')}\n`);

/** `gatehouse audit` in a process that may open at most `openFiles` files. */
function audit(args: string[], openFiles: number): Promise<CommandOutput> {
  const command = [process.execPath, ...SIDECAR_COMMAND, 'audit', ...args];
  return outputOf(
    spawn('/bin/sh', ['-c', `ulimit -n ${openFiles} && exec "$@"`, 'sh', ...command], {
      env: SIDECAR_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

describe('gatehouse audit over more files than a process may open', () => {
  it('every session: the same answer as from one file, within the open files limit', async () => {
    const many = await audit(['sessions', '--format', 'jsonl', ...files], OPEN_FILES_LIMIT);
    expect(many.stderr).not.toMatch(/EMFILE|too many open files/i);
    expect(many.code).toBe(0);
    const one = await audit(['sessions', '--format', 'jsonl', everything], OPEN_FILES_LIMIT);
    expect(one.code).toBe(0);
    expect(many.stdout.split('\n')).toHaveLength(FILES * LINES_PER_FILE + 1);
    expect(many.stdout).toBe(one.stdout);
  });

  it("one user's sessions: every request of the user, in time order", async () => {
    const many = await audit(
      ['sessions', '--user', 'ada@example.com', '--format', 'json', ...files],
      OPEN_FILES_LIMIT,
    );
    expect(many.stderr).not.toMatch(/EMFILE|too many open files/i);
    expect(many.code).toBe(0);
    const sessions = JSON.parse(many.stdout) as { requests: { start: string; uri: string }[] }[];
    expect(sessions).toHaveLength(1);
    const requests = sessions[0]?.requests ?? [];
    expect(requests).toHaveLength((FILES * LINES_PER_FILE) / 2);
    const times = requests.map((r) => Date.parse(r.start));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
