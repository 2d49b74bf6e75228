import type { Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REVOCATIONS, type SidecarConfig } from '../../contract/config/sidecar-config.ts';
import {
  SESSION_END_ACCOUNT_HEADER,
  SESSION_ENDS_PER_ACCOUNT,
  SESSION_ENDS_UNTIL,
  sessionEndAccount,
} from '../../contract/session-ends.ts';
import { ConfigHub } from '../../operator/src/delivery/config-hub.ts';
import {
  createDeliveryServer,
  DELIVERY_BODY_BYTES_PER_PEER,
  DELIVERY_REQUEST_TIMEOUT_MS,
  STREAM_END_GRACE_MS,
  STREAM_OPEN_RATE,
  STREAM_SLACK_BYTES,
  STREAMS_PER_POD,
  VERIFYING_PER_PEER,
} from '../../operator/src/delivery/delivery-server.ts';
import { createAdmissionWebhook, reviewWaitMs } from '../../operator/src/injection/admission-webhook.ts';
import { createOperatorMetrics } from '../../operator/src/operator-metrics.ts';
import { dial, eventually, kernelSendQueue, sleep } from '../helpers/hostile.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

// The operator's delivery port is on the pod network, open to every pod (the chart's
// NetworkPolicy lets the webhook and the streams in from anywhere). What a client there can make
// the operator hold: webhook bodies in memory, and config streams it never reads.

const APP = 'team/wiki';
const metrics = createOperatorMetrics({
  queueDepth: () => 0,
  applicationsByReady: () => ({}),
  podsWithoutSidecar: () => new Map(),
  servicesPastSidecar: () => new Map(),
  appPortsOpen: () => new Map(),
});
const hub = new ConfigHub();
const delivery = createDeliveryServer({
  tls: selfSignedCertificate(),
  hub,
  metrics,
  verify: async (token) => {
    // A token named `slow` takes a while to review, as a busy API server does.
    if (token === 'slow') await sleep(500);
    return {
      namespace: 'team',
      application: 'wiki',
      pod: `wiki-${token}`,
      podUid: `uid-${token}`,
      expiresAt: undefined,
    };
  },
  // Heartbeats every 200 ms, so a stream's end meets them.
  heartbeatMs: 200,
  admission: createAdmissionWebhook({ context: () => undefined, metrics, log: () => undefined }),
  sessionEnds: {
    covering: () => revocationsCovering,
    coveringAccount: (application, account) => accountEnds.get(`${application} ${account}`) ?? 0,
    record: async (_identity, _end, _at, account) => {
      recordedAccounts.push(account);
      return `session-end-${++sessionEndsRecorded}`;
    },
    recorded: () => (endRecordedAlready ? 'session-end-there' : undefined),
  },
});
/** What the session-ends route is told covers the application now, and what it recorded. */
let revocationsCovering = 0;
let sessionEndsRecorded = 0;
let endRecordedAlready = false;
/** Session ends in force by `<application> <account>`, and the account each recorded end named. */
const accountEnds = new Map<string, number>();
const recordedAccounts: (string | undefined)[] = [];
let port = 0;
const open: TLSSocket[] = [];

/** Connections the delivery server holds now. */
function serverConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    delivery.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** Streams the operator ended for `reason` so far. */
async function streamsEnded(reason: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('gatehouse_operator_streams_ended_total');
  return Number(new RegExp(`reason="${reason}"} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** The delivery port's gauge of body bytes held now. */
async function bodyBytesHeld(): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('gatehouse_operator_delivery_body_bytes');
  return Number(/^gatehouse_operator_delivery_body_bytes (\d+)$/m.exec(text)?.[1]);
}

beforeAll(async () => {
  await new Promise<void>((r) => delivery.server.listen(0, '127.0.0.1', r));
  port = (delivery.server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of open) socket.destroy();
  await new Promise((r) => {
    delivery.server.once('close', r);
    delivery.close();
  });
});

/** A TLS client from `from`, its handshake done, that keeps what it receives. */
async function client(
  from: string,
): Promise<{ socket: TLSSocket; tcp: Socket; received(): string; closed: Promise<void> }> {
  const tcp = await dial(port, from);
  if (!tcp) throw new Error(`no connection from ${from}`);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: tcp, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => undefined);
  open.push(socket);
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, tcp, received: () => text, closed };
}

const EIGHT_MIB = 8 * 1024 * 1024;
const MIB = Buffer.alloc(1024 * 1024, 0x20);

/** Sends the head of an 8 MiB AdmissionReview and all of its body but the last byte. */
async function almostWholeReview(socket: TLSSocket): Promise<void> {
  socket.write(
    `POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Type: application/json\r\nContent-Length: ${EIGHT_MIB}\r\n\r\n`,
  );
  for (let i = 0; i < 8; i++) {
    const chunk = i < 7 ? MIB : MIB.subarray(1);
    await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
  }
}

describe('webhook bodies against one address with many connections', () => {
  it(`one address holds at most ${DELIVERY_BODY_BYTES_PER_PEER / 2 ** 20} MiB of bodies; the rest get 503; another address is served`, async () => {
    const hostile = await Promise.all(Array.from({ length: 6 }, () => client('127.14.0.1')));
    await Promise.all(hostile.map((c) => almostWholeReview(c.socket).catch(() => undefined)));
    await eventually(
      'three of six answered 503',
      () => hostile.filter((c) => /^HTTP\/1\.1 503/.test(c.received())).length === 3,
      10_000,
    );
    const refused = hostile.filter((h) => /^HTTP\/1\.1 503/.test(h.received()));
    for (const c of refused) expect(c.received()).toMatch(/retry-after: 1/i);
    // The six would hold 48 MiB; the server holds the address's share.
    expect(await bodyBytesHeld()).toBe(3 * EIGHT_MIB);

    const other = await client('127.14.0.2');
    const review = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    other.socket.write(
      `POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Length: ${review.length}\r\nConnection: close\r\n\r\n${review}`,
    );
    await other.closed;
    expect(other.received()).toMatch(/^HTTP\/1\.1 400/);

    // Their bodies finished, the three held are handled (400, not a review) and give their share back.
    for (const c of hostile) if (!refused.includes(c)) c.socket.write(' ');
    await eventually(
      'the three held answered',
      () => hostile.filter((c) => /^HTTP\/1\.1 400/.test(c.received())).length === 3,
      10_000,
    );
    const again = await client('127.14.0.1');
    again.socket.write(
      `POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Length: ${review.length}\r\nConnection: close\r\n\r\n${review}`,
    );
    await again.closed;
    expect(again.received()).toMatch(/^HTTP\/1\.1 400/);
    expect(await bodyBytesHeld()).toBe(0);
    for (const c of hostile) c.socket.destroy();
  });

  it.each([
    [
      '[{},{},…] (179 MiB of heap when parsed)',
      `[${'{},'.repeat(2_000_000)}{}]`,
      /more than 100000 arrays and objects/,
    ],
    [
      '[[[[…]]]] (221 MiB of heap when parsed)',
      `${'['.repeat(3_000_000)}${']'.repeat(3_000_000)}`,
      /nested deeper than 100/,
    ],
    [
      '100,001 members (the time to parse grows with them)',
      `[${'1,'.repeat(100_000)}1]`,
      /more than 100000 array elements and object members/,
    ],
  ])('a review of %s is refused before it is parsed', async (_name, review, message) => {
    const c = await client('127.14.1.3');
    c.socket.write(
      `POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Length: ${review.length}\r\nConnection: close\r\n\r\n`,
    );
    c.socket.write(review);
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 400/);
    expect(c.received()).toMatch(message);
  });

  it('a body larger than the webhook takes is answered 413 before a byte of it is read', async () => {
    const c = await client('127.14.1.1');
    c.socket.write(`POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Length: ${2 * EIGHT_MIB}\r\n\r\n`);
    await eventually('413', () => /^HTTP\/1\.1 413/.test(c.received()), 5_000);
    c.socket.destroy();
  });

  it('bodies sent in chunks take their bytes as they come: past the share, 503', async () => {
    const chunked = await Promise.all(Array.from({ length: 4 }, () => client('127.14.1.2')));
    const sevenMib = 7 * 1024 * 1024;
    for (const c of chunked) {
      c.socket.write('POST /v1/inject HTTP/1.1\r\nHost: operator\r\nTransfer-Encoding: chunked\r\n\r\n');
      c.socket.write(`${sevenMib.toString(16)}\r\n${'x'.repeat(sevenMib)}\r\n`);
    }
    await eventually('a 503', () => chunked.some((c) => /^HTTP\/1\.1 503/.test(c.received())), 10_000);
    expect(await bodyBytesHeld()).toBeLessThanOrEqual(DELIVERY_BODY_BYTES_PER_PEER);
    for (const c of chunked) c.socket.destroy();
    await expect.poll(bodyBytesHeld, { timeout: 5_000 }).toBe(0);
  });

  it(`a trickled body is cut when the request has taken ${DELIVERY_REQUEST_TIMEOUT_MS / 1000} s`, async () => {
    const c = await client('127.14.2.1');
    const started = performance.now();
    c.socket.write('POST /v1/inject HTTP/1.1\r\nHost: operator\r\nContent-Length: 1000\r\n\r\n');
    const trickle = setInterval(() => c.socket.write('x'), 500);
    try {
      await c.closed;
    } finally {
      clearInterval(trickle);
    }
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(DELIVERY_REQUEST_TIMEOUT_MS - 1_000);
    expect(took).toBeLessThan(DELIVERY_REQUEST_TIMEOUT_MS + 5_000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  }, 60_000);
});

describe('reviews take turns on the thread', () => {
  /**
   * A review of 99,000 members in small objects whose keys all differ: the costliest shape the
   * webhook parses (V8 builds a hidden class for each new key), about 0.9 MiB and 80 ms here.
   */
  const costly = (() => {
    const objects: string[] = [];
    for (let i = 0; i < 4_400; i++)
      objects.push(`{"u${i}":1,"v${i}":2,"w${i}":3,"x${i}":4,"y${i}":5,"z${i}":6,"a${i}":7,"b${i}":8}`);
    return `{"kind":"AdmissionReview","request":{"uid":"flood","kind":{"kind":"Pod"},"operation":"CREATE","object":{"a":[${objects.join(',')}]}}}`;
  })();
  const small = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'api-server', kind: { kind: 'ConfigMap' }, operation: 'CREATE' },
  });
  const post = (body: string): string =>
    `POST /v1/inject?timeout=10s HTTP/1.1\r\nHost: operator\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  /** When (performance.now()) data first arrives on `socket` after which `done` holds. */
  const arrival = (socket: TLSSocket, done: () => boolean): Promise<number> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        socket.off('data', check);
        resolve(performance.now());
      };
      // After the client's own listener has kept the data.
      socket.on('data', check);
    });
  /** Complete answers received (the webhook's answers are chunked). */
  const answers = (text: string): number => text.split('\r\n0\r\n\r\n').length - 1;

  it('a flood of costly reviews from one address: revocations still reach a stream, and a review from elsewhere is answered, within 500 ms', async () => {
    hub.publish(APP, { generation: 100, revocations: [] } as unknown as SidecarConfig, '{}');
    const stream = await client('127.14.7.9');
    stream.socket.write('GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer turns\r\n\r\n');
    await eventually('the stream open', () => stream.received().includes('"generation":'), 5_000);

    // 16 connections (14 MiB of bodies, within the address's share), each sending its next
    // review as soon as the last is answered. Parsed as they came, bodies that arrived in one
    // turn of the event loop held the thread for all of theirs: over a second.
    let flooding = true;
    const flood = await Promise.all(Array.from({ length: 24 }, () => client('127.14.7.1')));
    const loops = flood.map(async (c) => {
      for (let sent = 1; flooding; sent++) {
        c.socket.write(post(costly));
        while (flooding && answers(c.received()) < sent && !c.socket.destroyed) await sleep(5);
      }
    });
    await sleep(300);

    // A revocation published at a moment the test chose: how long until the stream has it,
    // counted from that moment (the timer itself waits for the thread, as a watch event does).
    const revocationWaits: number[] = [];
    for (let i = 0; i < 20; i++) {
      const due = performance.now() + 100;
      const name = `turns-${i}`;
      const streamed = arrival(stream.socket, () => stream.received().includes(`"${name}"`));
      setTimeout(() => {
        hub.publishRevocations(APP, [
          {
            name,
            user: `${name}@example.com`,
            subject: null,
            provider: null,
            expires: '2030-01-01T00:00:00Z',
          },
        ] as never);
      }, 100);
      revocationWaits.push((await streamed) - due);
    }
    const reviewWaits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const apiServer = await client('127.14.7.2');
      const answered = arrival(apiServer.socket, () => answers(apiServer.received()) === 1);
      const sent = performance.now();
      apiServer.socket.write(post(small));
      reviewWaits.push((await answered) - sent);
      expect(apiServer.received()).toMatch(/^HTTP\/1\.1 200/);
      apiServer.socket.destroy();
    }
    flooding = false;
    await Promise.all(loops);
    const floodAnswers = flood.reduce((sum, c) => sum + answers(c.received()), 0);
    for (const c of [...flood, stream]) c.socket.destroy();

    // The flood was served too, one review at a time.
    expect(floodAnswers).toBeGreaterThan(16);
    expect(Math.max(...revocationWaits)).toBeLessThan(250);
    expect(Math.max(...reviewWaits)).toBeLessThan(250);
    await eventually('all streams gone', () => hub.connected === 0, 5_000);
    expect(
      await metrics.registry.getSingleMetricAsString('gatehouse_operator_webhook_reviews_waiting'),
    ).toMatch(/^gatehouse_operator_webhook_reviews_waiting 0$/m);
  }, 60_000);

  /** The number of reviews waiting for their turn now (the webhook's gauge). */
  const waiting = async (): Promise<number> =>
    Number(
      /^gatehouse_operator_webhook_reviews_waiting (\d+)$/m.exec(
        await metrics.registry.getSingleMetricAsString('gatehouse_operator_webhook_reviews_waiting'),
      )?.[1],
    );

  it.each([
    ['reset (RST)', (c: { tcp: Socket }) => c.tcp.resetAndDestroy()],
    ['closed (FIN)', (c: { socket: TLSSocket }) => c.socket.end()],
  ])(
    'reviews whose clients %s while they wait for their turn leave the line at once; the webhook serves on',
    async (_how, leave) => {
      // 24 costly reviews from one address at once: a line of about two seconds of parsing.
      const flood = await Promise.all(Array.from({ length: 24 }, () => client('127.14.7.3')));
      for (const c of flood) c.socket.write(post(costly));
      await eventually('a line of reviews', async () => (await waiting()) >= 16, 10_000);

      // Every client leaves. A review that stayed in line would be parsed for nobody, 80 ms each,
      // and hold the thread for the rest of the line: the gauge would fall by one every 80 ms.
      const left = performance.now();
      for (const c of flood) leave(c);
      await eventually('the line empty', async () => (await waiting()) === 0, 5_000);
      const emptied = performance.now() - left;
      expect(emptied).toBeLessThan(300);
      const answered = flood.reduce((sum, c) => sum + answers(c.received()), 0);
      expect(answered).toBeLessThan(8);

      // Served on: a review from elsewhere is answered.
      const apiServer = await client('127.14.7.4');
      const done = arrival(apiServer.socket, () => answers(apiServer.received()) === 1);
      apiServer.socket.write(post(small));
      await done;
      expect(apiServer.received()).toMatch(/^HTTP\/1\.1 200/);
      for (const c of [...flood, apiServer]) c.socket.destroy();
    },
    30_000,
  );

  it.each([
    ['/v1/inject?timeout=10s', 10_000],
    ['/v1/inject?timeout=30s', 30_000],
    ['/v1/inject?timeout=2m', 30_000],
    ['/v1/inject?timeout=45s', 30_000],
    ['/v1/inject?timeout=500ms', 1_000],
    ['/v1/inject?dryRun=All&timeout=5s', 5_000],
    ['/v1/inject?timeout=2.5s', 2_500],
    ['/v1/inject', 10_000],
    ['/v1/inject?timeout=soon', 10_000],
    ['/v1/inject?timeout=10sx', 10_000],
  ])('a review of %s waits for its turn at most %i ms (the API server waits no longer)', (url, ms) => {
    expect(reviewWaitMs(url)).toBe(ms);
  });
});

describe('session ends of an application that many revocations cover', () => {
  const end = JSON.stringify({
    session: 'abcdefghijklmnopqrstuvwx',
    before: 1_790_000_000,
    reason: 'sign_out',
  });
  const post = async (headers = ''): Promise<string> => {
    const c = await client('127.14.8.1');
    c.socket.write(
      `POST /v1/session-ends HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer ends\r\nContent-Type: application/json\r\nContent-Length: ${end.length}\r\n${headers}Connection: close\r\n\r\n${end}`,
    );
    await c.closed;
    return c.received();
  };

  it(`are refused (409, not recorded) once ${SESSION_ENDS_UNTIL} cover it: a sidecar takes 10,000, and places stay for other revocations`, async () => {
    revocationsCovering = SESSION_ENDS_UNTIL - 1;
    expect(await post()).toMatch(/^HTTP\/1\.1 201/);
    expect(sessionEndsRecorded).toBe(1);
    revocationsCovering = SESSION_ENDS_UNTIL;
    const refused = await post();
    expect(refused).toMatch(/^HTTP\/1\.1 409/);
    expect(refused).toMatch(/"error":"session_ends_full"/);
    expect(sessionEndsRecorded).toBe(1);
    expect(SESSION_ENDS_UNTIL).toBeLessThan(MAX_REVOCATIONS);
    revocationsCovering = 0;
  });

  it('one sent again (its AccessRevocation there already) is answered with it at once, with no write, even past the bound: the sidecar does not log it refused', async () => {
    revocationsCovering = SESSION_ENDS_UNTIL;
    endRecordedAlready = true;
    const before = sessionEndsRecorded;
    try {
      const answer = await post();
      expect(answer).toMatch(/^HTTP\/1\.1 201/);
      expect(answer).toContain('{"revocation":"session-end-there"}');
      expect(sessionEndsRecorded).toBe(before);
    } finally {
      endRecordedAlready = false;
      revocationsCovering = 0;
    }
  });
});

describe('session ends of one account', () => {
  const end = JSON.stringify({
    session: 'zyxwvutsrqponmlkjihgfedc',
    before: 1_790_000_000,
    reason: 'sign_out',
  });
  const mallory = sessionEndAccount('corp', 'mallory');
  const post = async (account?: string | string[]): Promise<string> => {
    const c = await client('127.14.8.2');
    const named = [account ?? []]
      .flat()
      .map((a) => `${SESSION_END_ACCOUNT_HEADER}: ${a}\r\n`)
      .join('');
    c.socket.write(
      `POST /v1/session-ends HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer ends\r\nContent-Type: application/json\r\nContent-Length: ${end.length}\r\n${named}Connection: close\r\n\r\n${end}`,
    );
    await c.closed;
    return c.received();
  };

  it(`are refused (409, not recorded) once ${SESSION_ENDS_PER_ACCOUNT} in force name the account; other accounts, and ends that name none, are recorded`, async () => {
    try {
      accountEnds.set(`${APP} ${mallory}`, SESSION_ENDS_PER_ACCOUNT - 1);
      const before = sessionEndsRecorded;
      expect(await post(mallory)).toMatch(/^HTTP\/1\.1 201/);
      expect(recordedAccounts.at(-1)).toBe(mallory);
      accountEnds.set(`${APP} ${mallory}`, SESSION_ENDS_PER_ACCOUNT);
      const refused = await post(mallory);
      expect(refused).toMatch(/^HTTP\/1\.1 409/);
      expect(refused).toMatch(/"error":"account_session_ends_full"/);
      expect(refused).toContain(`${SESSION_ENDS_PER_ACCOUNT} session ends in force for ${APP}`);
      expect(sessionEndsRecorded).toBe(before + 1);
      // Someone else's sign-out, and one from a sidecar of an earlier version (no account), go through.
      expect(await post(sessionEndAccount('corp', 'alice'))).toMatch(/^HTTP\/1\.1 201/);
      expect(await post()).toMatch(/^HTTP\/1\.1 201/);
      expect(recordedAccounts.slice(-2)).toEqual([sessionEndAccount('corp', 'alice'), undefined]);
      expect(sessionEndsRecorded).toBe(before + 3);
      // Counted by outcome for the platform team's dashboards.
      const counted = await metrics.registry.getSingleMetricAsString('gatehouse_operator_session_ends_total');
      expect(counted).toMatch(/^gatehouse_operator_session_ends_total\{outcome="account_full"\} 1$/m);
      expect(counted).toMatch(/^gatehouse_operator_session_ends_total\{outcome="recorded"\} \d+$/m);
    } finally {
      accountEnds.clear();
    }
  });

  it.each([
    ['not hex', 'mallory@example.com'],
    ['too short', mallory.slice(1)],
    ['upper case', mallory.toUpperCase()],
    ['two of them', [mallory, sessionEndAccount('corp', 'alice')]],
    ['empty', ''],
  ])('an account header that is %s is refused (400), nothing recorded', async (_what, account) => {
    const before = sessionEndsRecorded;
    const invalid = async () =>
      Number(
        /outcome="invalid"\} (\d+)$/m.exec(
          await metrics.registry.getSingleMetricAsString('gatehouse_operator_session_ends_total'),
        )?.[1] ?? 0,
      );
    const invalidBefore = await invalid();
    const answer = await post(account);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain(SESSION_END_ACCOUNT_HEADER);
    expect(sessionEndsRecorded).toBe(before);
    expect(await invalid()).toBe(invalidBefore + 1);
  });
});

describe('token reviews', () => {
  it(`one address holds ${VERIFYING_PER_PEER} places for reviews; the rest are answered 503 busy at once, and a sidecar elsewhere connects`, async () => {
    const flood = await Promise.all(Array.from({ length: 40 }, () => client('127.14.6.1')));
    for (const c of flood)
      c.socket.write('GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer slow\r\n\r\n');
    await eventually(
      'the rest refused',
      () => flood.filter((c) => /^HTTP\/1\.1 503/.test(c.received())).length === 40 - VERIFYING_PER_PEER,
      2_000,
    );
    const refused = flood.find((c) => /^HTTP\/1\.1 503/.test(c.received()))?.received() ?? '';
    expect(refused).toMatch(/retry-after: 1/i);
    expect(refused).toMatch(/"error":"busy"/);
    const sidecar = await client('127.14.6.2');
    sidecar.socket.write(
      'GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer elsewhere\r\n\r\n',
    );
    await eventually(
      'the sidecar elsewhere streams',
      () => /^HTTP\/1\.1 200/.test(sidecar.received()),
      2_000,
    );
    for (const c of [...flood, sidecar]) c.socket.destroy();
    await eventually('all streams gone', () => hub.connected === 0, 5_000);
  });
});

describe('streams one Pod opens', () => {
  it(`a burst of ${STREAM_OPEN_RATE.burst}, then ${STREAM_OPEN_RATE.perSecond} a second: past it 429 too_many_streams with Retry-After; another Pod is served`, async () => {
    hub.publish(APP, { generation: 200, revocations: [] } as unknown as SidecarConfig, '{}');
    /** Opens a stream for `token` and leaves at its first answer; the answer's head. */
    const open = async (token: string): Promise<string> => {
      const c = await client('127.14.8.1');
      c.socket.write(`GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      await eventually('an answer', () => c.received().includes('\r\n\r\n'), 5_000);
      c.socket.destroy();
      return c.received();
    };
    const started = performance.now();
    let served = 0;
    let refused = '';
    while (served < STREAM_OPEN_RATE.burst + 10) {
      const head = await open('opener');
      if (!head.startsWith('HTTP/1.1 200')) {
        refused = head;
        break;
      }
      served++;
    }
    // Each second of the run refilled one.
    const seconds = (performance.now() - started) / 1000;
    expect(served).toBeGreaterThanOrEqual(STREAM_OPEN_RATE.burst);
    expect(served).toBeLessThanOrEqual(
      STREAM_OPEN_RATE.burst + Math.ceil(seconds * STREAM_OPEN_RATE.perSecond),
    );
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused).toMatch(/^retry-after: 1\r$/im);
    expect(refused).toContain('"too_many_streams"');
    expect(await open('another-opener')).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('config streams that are not read', () => {
  /** A config whose stream line is about `bytes` long. */
  const bigConfig = (generation: number, bytes: number): SidecarConfig =>
    ({ generation, revocations: [], padding: 'x'.repeat(bytes) }) as unknown as SidecarConfig;

  it('a stream more than a whole config behind is cut (slow_reader); one that reads gets every config', async () => {
    hub.publish(APP, bigConfig(1, 2 * 1024 * 1024), '{}');
    const stalled = await client('127.14.3.1');
    const reader = await client('127.14.3.2');
    for (const [c, token] of [
      [stalled, 'stalled'],
      [reader, 'reader'],
    ] as const)
      c.socket.write(`GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await eventually('both streams open', () => hub.connected === 2, 5_000);
    stalled.socket.pause();
    // Each change is a whole config; the stalled stream falls behind by more than one once the
    // kernel's buffers are full. What they take depends on how far the receive buffer of the
    // stalled client grew while it read the first config (Linux tunes it, here up to 32 MiB):
    // 4 changes (8 MiB) were not always enough, so changes come until the cut, 40 MiB at most.
    // Generations 101 and up: the tests after this one publish generations of their own (6, 7,
    // 30), and a config of the generation in force is not sent again.
    let generation = 100;
    while (hub.connected === 2 && generation < 120) {
      generation++;
      hub.publish(APP, bigConfig(generation, 2 * 1024 * 1024), '{}');
      await sleep(100);
    }
    await eventually('the stalled stream cut', () => hub.connected === 1, 5_000);
    expect(await metrics.registry.getSingleMetricAsString('gatehouse_operator_streams_ended_total')).toMatch(
      /reason="slow_reader"} 1$/m,
    );
    await eventually(
      `the reader has all ${generation}`,
      () => reader.received().includes(`{"generation":${generation},`),
      10_000,
    );
    expect((reader.received().match(/"generation":/g) ?? []).length).toBe(1 + generation - 100);
    expect(reader.socket.destroyed).toBe(false);
    expect(STREAM_SLACK_BYTES).toBeLessThan(2 * 1024 * 1024);
    reader.socket.destroy();
  });
  it(`a stream the operator ends while its sidecar does not read: nothing more is written to it (it ended the operator), and it is cut ${STREAM_END_GRACE_MS / 1000} s later`, async () => {
    const stalled = await client('127.14.4.1');
    stalled.socket.write('GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer gone\r\n\r\n');
    await eventually('the stream open', () => stalled.received().includes('"generation":'), 5_000);
    stalled.socket.pause();
    // More than the kernel's buffers take stays unsent in the operator (one config: under the
    // slow reader's bound).
    hub.publish(APP, bigConfig(6, 12 * 1024 * 1024), '{}');
    await sleep(200);
    const connectionsBefore = await serverConnections();
    const started = performance.now();
    delivery.podChanged('team/wiki-gone', undefined);
    expect(hub.connected).toBe(0);
    // Heartbeats come every 200 ms and a config changes: written after the end, each was an
    // unhandled error (this process would fail the run).
    await sleep(500);
    hub.publish(APP, bigConfig(7, 1024), '{}');
    // The client reads nothing, so it never sees the end: the operator's side is what counts.
    while (
      (await serverConnections()) >= connectionsBefore &&
      performance.now() - started < STREAM_END_GRACE_MS + 5_000
    )
      await sleep(100);
    const took = performance.now() - started;
    expect(await serverConnections()).toBe(connectionsBefore - 1);
    expect(took).toBeGreaterThan(STREAM_END_GRACE_MS - 1_000);
    expect(took).toBeLessThan(STREAM_END_GRACE_MS + 3_000);
    stalled.socket.destroy();
  }, 30_000);

  it(`one Pod holds ${STREAMS_PER_POD} streams: a further one cuts its oldest with a reset, and what the kernel held for it goes`, async () => {
    // A config larger than the kernel's buffers take, for streams that read nothing.
    hub.publish(APP, bigConfig(30, 12 * 1024 * 1024), '{}');
    const replacedBefore = await streamsEnded('replaced');
    const connectedBefore = hub.connected;
    const other = await client('127.14.6.9');
    other.socket.write(
      'GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer other-pod\r\n\r\n',
    );
    other.socket.pause();
    const same: Awaited<ReturnType<typeof client>>[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await client('127.14.6.1');
      c.socket.write('GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer one-pod\r\n\r\n');
      c.socket.pause();
      same.push(c);
      // Each stream's config fills the kernel's buffers before the next one comes.
      await eventually(
        'the config sent as far as it goes',
        () => (kernelSendQueue(port, c.tcp.localPort ?? 0) ?? 0) > 0,
        5_000,
      );
    }
    await eventually(
      'the pod down to its streams',
      () => hub.connected === connectedBefore + 1 + STREAMS_PER_POD,
      5_000,
    );
    expect(await streamsEnded('replaced')).toBe(replacedBefore + 5 - STREAMS_PER_POD);
    // The oldest three are gone from the kernel too (reset): closed, each kept about a megabyte
    // queued for a peer that reads nothing, for minutes.
    for (const c of same.slice(0, 5 - STREAMS_PER_POD))
      await eventually(
        'the cut connection gone',
        () => kernelSendQueue(port, c.tcp.localPort ?? 0) === undefined,
        2_000,
      );
    for (const c of [...same.slice(5 - STREAMS_PER_POD), other])
      expect(kernelSendQueue(port, c.tcp.localPort ?? 0)).toBeGreaterThan(0);
    for (const c of [...same, other]) c.socket.destroy();
    await eventually('all streams gone', () => hub.connected === connectedBefore, 5_000);
  });

  it('a sidecar that leaves while its token is reviewed leaves nothing subscribed', async () => {
    const leaving = await client('127.14.5.1');
    leaving.socket.write('GET /v1/config HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer slow\r\n\r\n');
    await sleep(100);
    leaving.socket.destroy();
    await sleep(800);
    expect(hub.connected).toBe(0);
    expect(await metrics.registry.getSingleMetricAsString('gatehouse_operator_connected_sidecars')).toMatch(
      /^gatehouse_operator_connected_sidecars 0$/m,
    );
  });
});
