import {
  awsEndpointTlv,
  azureLinkTlv,
  gcpConnectionTlv,
  proxyTlv,
  proxyV2For,
} from '../helpers/proxy-headers.ts';
import type { Prng } from './prng.ts';

/**
 * The fuzzer's raw material: well-formed requests of every shape the sidecar handles (plain,
 * bodies with length or chunks, upgrades, pipelining, spoofed identity and rewrite headers, path
 * tricks, smuggling shapes), and byte-level mutations of them.
 */

const HOST = 'Host: 127.0.0.1\r\n';
const WS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
const PATHS = [
  '/',
  '/fuzz/a',
  '/slow',
  '/big',
  '/stream',
  '/fuzz/a/../admin',
  '/fuzz/%2e%2e/x',
  '/fuzz//x',
  '/fuzz/%2F',
  '/fuzz?x=1&token=secret',
  '/fuzz/\u00e9',
  '/.gatehouse/ready',
  '/.gatehouse/ready?lb=1',
  '/.gatehouse/jwks.json',
  '/.gatehouse/jwks.json?v=1',
];
/**
 * The private endpoint clients claim in a header of their own (SPOOFS), never to reach the
 * application; the balancers' headers name others (a bit of one at times flipped: still an
 * endpoint a trusted balancer named).
 */
export const SPOOFED_ENDPOINT = 'aws:vpce-0spoofed';
const SPOOFS = [
  'X-Forwarded-Email: mallory@evil.test',
  'X_Forwarded_User: mallory',
  'X-Gatehouse-User: mallory',
  `X-Gatehouse-Private-Endpoint: ${SPOOFED_ENDPOINT}`,
  'X-Original-URL: /admin',
  'X-Rewrite-URL: /admin',
  'X-HTTP-Method-Override: DELETE',
  'X-Forwarded-For: 10.0.0.1',
  'X-Forwarded-Client-Cert: Subject="CN=admin"',
  'Transfer_Encoding: chunked',
  'Cf-Access-Jwt-Assertion: eyJhbGciOiJub25lIn0.e30.',
];

/** Well-formed requests, one of which the fuzzer starts from. */
export function baseRequest(rng: Prng): string {
  const path = rng.pick(PATHS);
  const spoof = rng.chance(0.3) ? `${rng.pick(SPOOFS)}\r\n` : '';
  switch (rng.int(9)) {
    case 0:
      return `GET ${path} HTTP/1.1\r\n${HOST}${spoof}\r\n`;
    case 1:
      return `POST /upload HTTP/1.1\r\n${HOST}${spoof}Content-Length: 11\r\n\r\nhello world`;
    case 2:
      return `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n`;
    case 3:
      return `GET /ws HTTP/1.1\r\n${HOST}${spoof}${WS}\r\n`;
    case 4:
      return `GET ${path} HTTP/1.1\r\n${HOST}\r\nGET /fuzz/second HTTP/1.1\r\n${HOST}\r\n`;
    case 5:
      return `GET /slow HTTP/1.1\r\n${HOST}\r\nGET /ws HTTP/1.1\r\n${HOST}${WS}\r\n`;
    case 6:
      return `POST /upload HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`;
    case 7:
      if (rng.chance(0.5))
        return `POST /upload HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${HOST}\r\n`;
      // A readiness check, or a fetch of the keys by another Host (the application in the pod),
      // answered before its body: the body is not a request.
      return `GET ${rng.pick(['/.gatehouse/ready', '/.gatehouse/jwks.json'])} HTTP/1.1\r\nHost: 10.0.0.9\r\nContent-Length: 40\r\n\r\nGET /admin HTTP/1.1\r\n${HOST}\r\n`;
    default:
      return `${rng.pick(['HEAD', 'OPTIONS', 'DELETE', 'PUT', 'PATCH'])} ${path} HTTP/1.1\r\n${HOST}${spoof}\r\n`;
  }
}

const INTERESTING = [
  '\r',
  '\n',
  '\r\n',
  '\0',
  ' ',
  ':',
  '%',
  '\t',
  '\x7f',
  '\xff',
  '\x80',
  '/',
  '..',
  '\\',
  ';',
  ',',
  'Host: x\r\n',
];
const METHODS = ['CONNECT', 'PRI', 'TRACE', 'get', 'G ET', 'GET\0', 'M-SEARCH', 'X'.repeat(40)];

/** One byte-level mutation of a request (as latin1 text). */
export function mutate(text: string, rng: Prng): string {
  const at = rng.int(text.length + 1);
  switch (rng.int(10)) {
    case 0: {
      const code = (text.charCodeAt(at) ^ (1 << rng.int(8))) & 0xff;
      return text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1);
    }
    case 1:
      return text.slice(0, at) + rng.pick(INTERESTING) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + rng.int(8));
    case 3: {
      const end = Math.min(text.length, at + 1 + rng.int(40));
      return text.slice(0, end) + text.slice(at, end) + text.slice(end);
    }
    case 4:
      return text.slice(0, at); // truncated
    case 5:
      return text.replace(/^[A-Z]+/, rng.pick(METHODS));
    case 6:
      return text.replace('\r\n\r\n', `\r\nX-Big: ${'a'.repeat(rng.pick([100, 8_000, 20_000]))}\r\n\r\n`);
    case 7:
      return text.replace(
        /\r\n/,
        `\r\n${rng.pick(['Host: other.test', 'Content-Length: -1', 'Content-Length: 99999999999', 'Transfer-Encoding: gzip, chunked', 'Expect: 100-continue', 'Expect: 200-ok', 'Connection: close'])}\r\n`,
      );
    case 8:
      return text.replace(
        /HTTP\/1\.1/,
        rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTPS/1.1', 'HTTP/0.9']),
      );
    default:
      return [...text].map((c) => (rng.chance(0.1) ? c.toUpperCase() : c)).join('');
  }
}

/** How a mutated request is delivered and how the connection ends. */
export interface Delivery {
  readonly bytes: Buffer;
  /** Byte offsets where the writes are split (a gap of a few ms between pieces). */
  readonly splits: readonly number[];
  readonly gapMs: number;
  /** What the client does after writing: read the answer, FIN at once, or RST at a random moment. */
  readonly ending: 'read' | 'fin' | 'rst';
  readonly rstAfterMs: number;
  /** Source address (127.0.0.x), so per-client shares see many clients. */
  readonly from: string;
}

/**
 * The load balancers that send the PROXY protocol (spec.proxyProtocol.from of the fuzzed sidecar),
 * and the clients other peers claim in PROXY headers of their own, never to be believed. The
 * balancers name clients of 203.0.113.0/24 and 2001:db8::/64, a bit of which is at times flipped:
 * still a client a trusted balancer named.
 */
export const PROXY_BALANCERS = '127.0.9.0/24';
export const SPOOFED_CLIENTS = '198.51.100.';
const SPOOFED_CLIENT = `${SPOOFED_CLIENTS}66`;

/** A version 2 header's extensions: filler, the vendors' endpoints, malformed ones, or several, in any order. */
function extensions(rng: Prng): number | Buffer {
  if (rng.chance(0.5)) return rng.pick([0, 0, 23, 300, 4_000]);
  const parts = Array.from({ length: 1 + rng.int(3) }, () =>
    rng.pick([
      awsEndpointTlv('vpce-0fuzz'),
      azureLinkTlv(7),
      gcpConnectionTlv(18446744073709551615n),
      awsEndpointTlv('vpce 0 bad'),
      proxyTlv(0xee, [1, 2]),
      proxyTlv(0xe0, Buffer.alloc(300)),
      proxyTlv(0x04, Buffer.alloc(rng.int(40))),
    ]),
  );
  return Buffer.concat(parts);
}

/** A PROXY header (version 1 or 2, LOCAL or UNKNOWN at times) naming `client`, sometimes broken. */
export function proxyHeader(rng: Prng, client: string): Buffer {
  const six = client.includes(':');
  let header: Buffer;
  if (rng.chance(0.4)) {
    const line = rng.chance(0.1)
      ? 'PROXY UNKNOWN\r\n'
      : `PROXY TCP${six ? 6 : 4} ${client} ${six ? 'fd00::5' : '10.0.0.5'} ${rng.int(65_536)} 4180\r\n`;
    header = Buffer.from(line, 'latin1');
  } else {
    header = proxyV2For(client, extensions(rng), rng.chance(0.1));
  }
  if (rng.chance(0.15)) {
    // Broken: a bit flipped, or cut short.
    const at = rng.int(header.length);
    if (rng.chance(0.5)) header[at] = ((header[at] as number) ^ (1 << rng.int(8))) & 0xff;
    else header = header.subarray(0, at);
  }
  return header;
}

/**
 * A mutated request (0 to 3 mutations of a base) with a random delivery. One case in eight comes
 * from a load balancer of PROXY_BALANCERS, nearly always behind a PROXY header; one in twenty of
 * the others claims a client in a PROXY header of its own.
 */
export function fuzzCase(rng: Prng): Delivery {
  let text = baseRequest(rng);
  const mutations = rng.pick([0, 1, 1, 2, 3]);
  for (let i = 0; i < mutations; i++) text = mutate(text, rng);
  const balancer = rng.chance(0.125);
  const client = rng.chance(0.5)
    ? `203.0.113.${1 + rng.int(250)}`
    : `2001:db8::${(1 + rng.int(4000)).toString(16)}`;
  const prefix =
    (balancer && rng.chance(0.9)) || (!balancer && rng.chance(0.05))
      ? proxyHeader(rng, balancer ? client : SPOOFED_CLIENT)
      : Buffer.alloc(0);
  const bytes = Buffer.concat([prefix, Buffer.from(text, 'latin1')]);
  const splits = rng.chance(0.3)
    ? Array.from({ length: 1 + rng.int(3) }, () => rng.int(bytes.length)).sort((a, b) => a - b)
    : [];
  const roll = rng.next();
  return {
    bytes,
    splits,
    gapMs: rng.int(20),
    ending: roll < 0.7 ? 'read' : roll < 0.85 ? 'fin' : 'rst',
    rstAfterMs: rng.int(60),
    from: balancer ? `127.0.9.${1 + rng.int(250)}` : `127.0.${rng.int(4)}.${1 + rng.int(250)}`,
  };
}
