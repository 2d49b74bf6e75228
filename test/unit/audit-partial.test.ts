import { describe, expect, it } from 'vitest';
import { answerQuery } from '../../audit/src/answer-query.ts';
import type { LogSource } from '../../audit/src/log-sources.ts';
import { requestLine } from '../helpers/log-lines.ts';

// Pod logs read through the API server (`--cluster`) are optional sources: among hundreds, one
// may be gone or fail while read. The answer goes on from the others and says which; a file the
// analyst named that cannot be read still fails the audit.

const ALL_TIME = { since: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY };

const line = (n: number) => {
  const at = new Date(Date.UTC(2026, 10, 20, 9, 0, n)).toISOString();
  return requestLine({
    start: at,
    end: at,
    requestId: `r${n}`,
    uri: `/page-${n}`,
    identity: { kind: 'user', sub: 'alice', email: 'alice@example.com', idp: 'corp' },
    sessionId: 'S-alice',
  });
};

/** A source serving `lines`, then failing with `failure` if given (or failing to open). */
function source(name: string, optional: boolean, lines: number[], failure?: 'open' | 'read'): LogSource {
  return {
    name,
    order: 'written',
    optional,
    async open() {
      if (failure === 'open') throw new Error(`${name}: 404 not found`);
      return (async function* () {
        yield Buffer.from(`${lines.map(line).join('\n')}\n`);
        if (failure === 'read')
          throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      })();
    },
  };
}

const uris = (answer: Awaited<ReturnType<typeof answerQuery>>['answer']) =>
  answer.kind === 'sessions' ? answer.sessions.map((s) => s.requests.map((r) => r.uri)) : [];

describe('sources the answer can go without', () => {
  it('a pod log that fails while read: its lines before the failure count, and it is named', async () => {
    const { answer, diagnostics } = await answerQuery({ kind: 'sessions', range: ALL_TIME }, [
      source('pod corp/wiki-a', true, [1, 3]),
      source('pod corp/wiki-b', true, [2], 'read'),
    ]);
    expect(uris(answer)).toEqual([['/page-1', '/page-2', '/page-3']]);
    expect(diagnostics.endedEarly).toEqual(['pod corp/wiki-b']);
    expect(diagnostics.unread).toEqual([]);
    expect(diagnostics.warnings).toEqual([
      'pod corp/wiki-b: the log ends early (other side closed); the lines before the cut were read',
    ]);
  });

  it('a pod log that cannot be opened: the others answer, and it is named with the reason', async () => {
    const { answer, diagnostics } = await answerQuery({ kind: 'sessions', range: ALL_TIME }, [
      source('pod corp/wiki-a', true, [1]),
      source('pod corp/wiki-gone', true, [], 'open'),
    ]);
    expect(uris(answer)).toEqual([['/page-1']]);
    expect(diagnostics.unread).toEqual([
      { source: 'pod corp/wiki-gone', reason: 'pod corp/wiki-gone: 404 not found' },
    ]);
  });

  it.each([
    ['cannot be opened', 'open' as const, '404 not found'],
    ['fails while read', 'read' as const, 'other side closed'],
  ])('a file named by the analyst that %s fails the audit', async (_, failure, message) => {
    await expect(
      answerQuery({ kind: 'sessions', range: ALL_TIME }, [
        source('wiki-a.log', false, [1]),
        source('wiki-b.log', false, [2], failure),
      ]),
    ).rejects.toThrow(message);
  });
});
