import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, listeningAddresses } from '../../lib/net/listening-sockets.ts';
import { loopbackPortOf, watchApplicationPort } from '../../sidecar/src/upstream/application-port.ts';

// The pod's listening sockets as Linux lists them (/proc/net/tcp and tcp6: hexadecimal words in
// the host's byte order), and the sidecar's watch of whether the application listens beyond
// loopback.

const HEADER4 =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEADER6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const line4 = (local: string, state = '0A', remote = '00000000:0000') =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000  1000        0 754869 1 000000006c285f0b 100 0 0 10 0\n`;
const line6 = (local: string, state = '0A') =>
  `   0: ${local} 00000000000000000000000000000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 754870 1 000000006c285f0b 100 0 0 10 0\n`;

describe('listening sockets from /proc/net', () => {
  it.each([
    ['127.0.0.1', HEADER4 + line4('0100007F:1F90'), HEADER6, ['127.0.0.1']],
    ['0.0.0.0', HEADER4 + line4('00000000:1F90'), HEADER6, ['0.0.0.0']],
    ['the pod address', HEADER4 + line4('0302010A:1F90'), HEADER6, ['10.1.2.3']],
    ['::', HEADER4, HEADER6 + line6('00000000000000000000000000000000:1F90'), ['::']],
    ['::1', HEADER4, HEADER6 + line6('00000000000000000000000001000000:1F90'), ['::1']],
    [
      '::ffff:127.0.0.1',
      HEADER4,
      HEADER6 + line6('0000000000000000FFFF00000100007F:1F90'),
      ['::ffff:127.0.0.1'],
    ],
    ['fd00::7', HEADER4, HEADER6 + line6('000000FD000000000000000007000000:1F90'), ['fd00::7']],
    [
      'another port, and a connection of 8080 (not listening)',
      HEADER4 + line4('0100007F:1F91') + line4('0100007F:1F90', '01', '0100007F:D431'),
      HEADER6,
      [],
    ],
    [
      'both loopbacks and every address',
      HEADER4 + line4('0100007F:1F90') + line4('00000000:1F90'),
      `${HEADER6 + line6('00000000000000000000000001000000:1F90')}garbage line\n`,
      ['0.0.0.0', '127.0.0.1', '::1'],
    ],
  ])('%s', (_what, tcp, tcp6, expected) => {
    expect(listeningAddresses(8080, tcp, tcp6)).toEqual(expected);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.3.4.5', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.1.2.3', false],
    ['::ffff:10.1.2.3', false],
  ])('%s is loopback: %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });

  it.each([
    ['http://127.0.0.1:8080', 8080],
    ['http://localhost:3000', 3000],
    ['https://127.0.0.1', 443],
    ['http://[::1]:9000', 9000],
    ['http://app.internal:8080', undefined],
    ['http://10.0.0.1:8080', undefined],
  ])('the upstream %s is watched at port %s', (origin, expected) => {
    expect(loopbackPortOf(origin)).toBe(expected);
  });
});

describe('the watch of the application port', () => {
  const tick = () => new Promise((r) => setTimeout(r, 30));

  it('waits for the application to listen, says once that it listens beyond loopback, again when the addresses change, and follows it back to loopback', async () => {
    let tcp = HEADER4;
    const opened: string[] = [];
    let open: (() => boolean) | undefined;
    const watch = watchApplicationPort({
      origin: () => 'http://127.0.0.1:8080',
      onOpen: (port, addresses) => opened.push(`${port} ${addresses.join(',')}`),
      onKnown: (o) => {
        open = o;
      },
      read: async () => [tcp, HEADER6],
      untilSeenMs: 5,
      afterMs: 5,
    });
    try {
      await tick();
      expect(open).toBeUndefined(); // not listening yet
      tcp = HEADER4 + line4('00000000:1F90');
      await tick();
      expect(open?.()).toBe(true);
      await tick();
      expect(opened).toEqual(['8080 0.0.0.0']); // once, though read many times
      tcp = HEADER4 + line4('0100007F:1F90');
      await tick();
      expect(open?.()).toBe(false);
      tcp = HEADER4 + line4('0302010A:1F90');
      await tick();
      expect(opened).toEqual(['8080 0.0.0.0', '8080 10.1.2.3']);
    } finally {
      watch.stop();
    }
  });

  it('watches nothing for an upstream off loopback, and stops where /proc/net cannot be read', async () => {
    let reads = 0;
    const known: unknown[] = [];
    const off = watchApplicationPort({
      origin: () => 'http://10.0.0.1:8080',
      onOpen: () => known.push('open'),
      onKnown: (o) => known.push(o),
      read: async () => {
        reads++;
        return [HEADER4 + line4('00000000:1F90'), HEADER6];
      },
      afterMs: 5,
    });
    await tick();
    off.stop();
    expect([reads, known]).toEqual([0, []]);
    const missing = watchApplicationPort({
      origin: () => 'http://127.0.0.1:8080',
      onOpen: () => known.push('open'),
      onKnown: (o) => known.push(o),
      read: async () => {
        reads++;
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      },
      untilSeenMs: 5,
      afterMs: 5,
    });
    await tick();
    missing.stop();
    expect([reads, known]).toEqual([1, []]);
  });
});
