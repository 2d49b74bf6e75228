import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkForwarded } from '../harness/invariant-upstream.ts';

/** A forwarded request as the harness's upstream sees it: a path, and headers in order. */
function forwarded(path: string, headers: [string, string][], method = 'GET'): IncomingMessage {
  const all: [string, string][] = [['Host', '127.0.0.1:4180'], ['x-request-id', 'r1'], ...headers];
  const joined: Record<string, string> = {};
  for (const [name, value] of all) {
    const key = name.toLowerCase();
    joined[key] = joined[key] === undefined ? value : `${joined[key]}, ${value}`;
  }
  return { method, url: path, rawHeaders: all.flat(), headers: joined } as unknown as IncomingMessage;
}

describe('the adversarial harness: what the sidecar must never forward', () => {
  it.each<[string, [string, string][], string[]]>([
    ['a client through a balancer, no endpoint', [['x-forwarded-for', '203.0.113.7']], []],
    [
      'a balancer’s endpoint, on a request it brought',
      [
        ['x-forwarded-for', '203.0.113.7'],
        ['x-gatehouse-private-endpoint', 'aws:vpce-0fuzz'],
      ],
      [],
    ],
    [
      'one a balancer named with a bit flipped: still one it named',
      [
        ['x-forwarded-for', '203.0.113.243'],
        ['x-gatehouse-private-endpoint', 'gcp:18446744073709551359'],
      ],
      [],
    ],
    [
      'an endpoint on a request from a plain peer: a client’s own',
      [
        ['x-forwarded-for', '127.0.0.9'],
        ['x-gatehouse-private-endpoint', 'aws:vpce-0fuzz'],
      ],
      ['private endpoint "aws:vpce-0fuzz" x1 from "127.0.0.9"'],
    ],
    [
      'the endpoint clients claim: a spoof passed on',
      [
        ['x-forwarded-for', '203.0.113.7'],
        ['x-gatehouse-private-endpoint', 'aws:vpce-0spoofed'],
      ],
      ['private endpoint "aws:vpce-0spoofed" x1 from "203.0.113.7"'],
    ],
    [
      'two endpoint headers (the balancer’s and a client’s)',
      [
        ['x-forwarded-for', '203.0.113.7'],
        ['x-gatehouse-private-endpoint', 'aws:vpce-0fuzz'],
        ['X-Gatehouse-Private-Endpoint', 'aws:vpce-0fuzz'],
      ],
      ['private endpoint "aws:vpce-0fuzz, aws:vpce-0fuzz" x2 from "203.0.113.7"'],
    ],
    [
      'another identity header off the legitimate paths',
      [
        ['x-forwarded-for', '127.0.0.9'],
        ['x-gatehouse-user', 'mallory'],
      ],
      ['identity header x-gatehouse-user on /fuzz/a'],
    ],
  ])('%s', (_what, headers, problems) => {
    expect(checkForwarded(forwarded('/fuzz/a', headers), false)).toEqual(problems);
  });

  it('a TRACE passed on: the application would echo what the sidecar stamped', () => {
    const peer: [string, string][] = [['x-forwarded-for', '127.0.0.9']];
    expect(checkForwarded(forwarded('/fuzz/a', peer, 'TRACE'), false)).toEqual(['TRACE /fuzz/a forwarded']);
    expect(checkForwarded(forwarded('/fuzz/a', peer, 'OPTIONS'), false)).toEqual([]);
  });
});
