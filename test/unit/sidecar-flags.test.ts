import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/args.ts';
import { parseSidecarFlags } from '../../sidecar/src/cli/sidecar-flags.ts';
import { DEFAULT_CLIENT_LIMITS } from '../../sidecar/src/server.ts';

const parse = (...argv: string[]) => parseSidecarFlags(['--config', 'app.yaml', ...argv], {});

describe('gatehouse sidecar flags', () => {
  it('defaults to the documented client limits', () => {
    const flags = parse();
    expect(flags.limits).toEqual(DEFAULT_CLIENT_LIMITS);
    expect(flags).toMatchObject({
      graceMs: 25_000,
      pollIntervalMs: 1_000,
      idleCollectionAfterMs: 10_000,
      inProgressIntervalMs: 60_000,
      listen: { host: '', port: 4180 },
      adminListen: { host: '', port: 9180 },
    });
    expect(parse('--listen=:80').listen).toEqual({ host: '', port: 80 });
    expect(parse('--listen=0.0.0.0:80').listen).toEqual({ host: '0.0.0.0', port: 80 });
  });

  it.each([
    ['--idle-collection-after=0s', 0],
    ['--idle-collection-after=1s', 1_000],
    ['--idle-collection-after=2m', 120_000],
    ['--idle-collection-after=1h', 3_600_000],
  ] as const)('%s', (flag, ms) => {
    expect(parse(flag).idleCollectionAfterMs).toBe(ms);
  });

  it.each([
    ['--in-progress-interval=0s', 0],
    ['--in-progress-interval=1s', 1_000],
    ['--in-progress-interval=5m', 300_000],
  ] as const)('%s', (flag, ms) => {
    expect(parse(flag).inProgressIntervalMs).toBe(ms);
  });

  it.each([
    ['--max-connections=20000', { maxConnections: 20_000 }],
    ['--listen-backlog=1024', { listenBacklog: 1_024 }],
    ['--client-body-timeout=5s', { bodyTimeoutMs: 5_000 }],
    ['--client-body-timeout=0s', { bodyTimeoutMs: 0 }],
    ['--client-body-min-rate=2048', { bodyMinRate: 2_048 }],
    ['--client-request-timeout=0s', { requestTimeoutMs: 0 }],
    ['--client-send-min-rate=4096', { sendMinRate: 4_096 }],
    ['--client-send-min-rate=0', { sendMinRate: 0 }],
    ['--client-contended-rate=1024', { contendedRate: 1_024 }],
    ['--upstream-queue-timeout=250ms', { queueTimeoutMs: 250 }],
    ['--upstream-queue-size=10', { maxQueue: 10 }],
    ['--anonymous-share=0.25', { anonymousShare: 0.25 }],
    ['--client-share=1', { clientShare: 1 }],
    ['--max-tunnels=10', { maxTunnels: 10 }],
    ['--max-client-tunnels=2', { maxClientTunnels: 2 }],
  ] as const)('%s', (flag, expected) => {
    expect(parse(flag).limits).toMatchObject(expected);
  });

  it.each([
    [['--anonymous-share=0'], /--anonymous-share: expected a fraction above 0/],
    [['--client-share=1.5'], /--client-share: expected a fraction above 0/],
    [['--client-share=half'], /--client-share: expected a fraction/],
    [['--client-body-timeout=soon'], /--client-body-timeout: expected a duration/],
    [['--max-connections=3'], /--max-connections: expected an integer from 16/],
    [['--listen-backlog=0'], /--listen-backlog: expected an integer from 1/],
    [['--listen-backlog=70000'], /--listen-backlog: expected an integer from 1 to 65535/],
    [['--upstream=ftp://x'], /--upstream/],
    [['--idle-collection-after=500ms'], /--idle-collection-after: 0s \(never\), or from 1s to 1h/],
    [['--idle-collection-after=2h'], /--idle-collection-after: 0s \(never\), or from 1s to 1h/],
    [['--idle-collection-after=later'], /--idle-collection-after: expected a duration/],
    [['--in-progress-interval=100ms'], /--in-progress-interval: 0s \(never\), or from 1s to 1h/],
    [['--in-progress-interval=2h'], /--in-progress-interval: 0s \(never\), or from 1s to 1h/],
  ] as const)('refuses %j', (argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError);
    expect(() => parse(...argv)).toThrow(message);
  });

  it('needs exactly one config source, and a CA and token for the operator', () => {
    expect(() => parseSidecarFlags([], {})).toThrow(/--config or --operator-url is required/);
    expect(() => parseSidecarFlags(['--config', 'a', '--operator-url', 'https://x'], {})).toThrow(/not both/);
    expect(() => parseSidecarFlags(['--operator-url', 'https://x', '--token-file', 't'], {})).toThrow(
      /--operator-ca/,
    );
    expect(
      parseSidecarFlags(['--operator-url', 'https://x', '--token-file', 't'], {
        GATEHOUSE_OPERATOR_CA: 'PEM',
      }).operator,
    ).toEqual({ url: 'https://x', ca: { pem: 'PEM' }, tokenFile: 't' });
  });

  it.each([
    [[], 5_000],
    [['--shutdown-grace', '6s'], 3_000],
    [['--shutdown-grace', '0s'], 0],
    [['--shutdown-delay', '0s'], 0],
    [['--shutdown-delay', '12s'], 12_000],
    [['--shutdown-delay', '3s', '--shutdown-grace', '6s'], 3_000],
  ])('--shutdown-delay from %j: %d ms', (argv, delayMs) => {
    expect(parse(...argv).delayMs).toBe(delayMs);
  });

  it.each([['127.0.0.1:8080'], ['127.0.0.1:80'], ['[::1]:8443'], ['app.internal:443']])(
    '--upstream-address %s is taken',
    (address) => {
      expect(parse('--upstream-address', address).upstreamAddress).toBe(address);
    },
  );

  it.each([
    [['--upstream-address', '127.0.0.1'], 'must be host:port'],
    [['--upstream-address', 'http://127.0.0.1:8080'], 'must be host:port'],
    [['--upstream-address', '127.0.0.1:0'], 'must be host:port'],
    [['--upstream-address', '127.0.0.1:65536'], 'must be host:port'],
    [['--upstream-address', '[::g]:80'], 'must be host:port'],
    [['--upstream-address', '127.0.0.1:8080', '--upstream', 'http://127.0.0.1:8080'], 'not both'],
  ])('%j is refused', (argv, message) => {
    expect(() => parse(...argv)).toThrow(message);
  });

  it('refuses a --shutdown-delay past half the grace', () => {
    expect(() => parse('--shutdown-delay', '13s')).toThrow(UsageError);
    expect(() => parse('--shutdown-delay', '4s', '--shutdown-grace', '6s')).toThrow(
      /--shutdown-delay: at most half of --shutdown-grace/,
    );
  });
});
