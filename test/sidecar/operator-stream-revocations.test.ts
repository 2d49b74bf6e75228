import { writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRevocations } from '../../contract/config/render.ts';
import type { Revocation, SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { streamLine } from '../../contract/config-stream.ts';
import { ConfigError } from '../../contract/errors.ts';
import { createOperatorConfigSource } from '../../sidecar/src/config/operator-source.ts';
import { testConfig, testRevocation } from '../helpers/fixtures.ts';
import { eventually } from '../helpers/operator-cluster.ts';
import { selfSignedCertificate } from '../helpers/tls.ts';

// Revocations sent on their own (the operator cannot render the application now) apply to the
// config the sidecar runs, exactly as a config carrying them would.

const tls = selfSignedCertificate();
const tokenFile = join(tls.certFile, '..', 'revocations-token');
let server: Server;
let url: string;
let stream: ServerResponse | undefined;
let streamsOpened = 0;

const revocation = (name: string): Revocation => testRevocation(name, 'ada@example.com', 'stolen laptop');

beforeAll(async () => {
  writeFileSync(tokenFile, 'token');
  server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    stream = res;
    streamsOpened++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A config source on the test's stream, with what it applied and what it refused. */
function startSource() {
  const changes: SidecarConfig[] = [];
  const rejected: ConfigError[] = [];
  const source = createOperatorConfigSource(
    { url, ca: tls.cert, tokenFile },
    { onConfig: (c) => changes.push(c), onRejected: (e) => rejected.push(e) },
  );
  return { changes, rejected, source };
}

describe('revocations on the operator config stream', () => {
  it('are applied to the running config, ignored before there is one, and refused when malformed', async () => {
    const { changes, rejected, source } = startSource();
    try {
      const first = source.start();
      await eventually(async () => stream !== undefined, 5_000, 'stream open');
      const send = (line: string) => stream?.write(line);
      // Nothing runs yet: revocations alone cannot make a config.
      send(streamLine({ type: 'revocations', revocations: [revocation('early')] }));
      const base = testConfig();
      send(streamLine({ type: 'config', config: base }));
      const config = await first;
      expect(config.generation).toBe(base.generation);
      expect(config.revocations).toEqual([]);

      send(streamLine({ type: 'revocations', revocations: [revocation('r2'), revocation('r1')] }));
      await eventually(async () => changes.length === 1, 5_000, 'revocations applied');
      const expected = withRevocations(base, [revocation('r1'), revocation('r2')]);
      expect(changes[0]?.revocations.map((r) => r.name)).toEqual(['r1', 'r2']);
      expect(changes[0]?.generation).toBe(expected.generation);
      expect(changes[0]?.policies).toEqual(base.policies);
      // The policies in force are kept as they are (checked and compiled once), not parsed again.
      expect(changes[0]?.policies).toBe(config.policies);

      // The same revocations again change nothing; malformed ones are refused and change nothing.
      send(streamLine({ type: 'revocations', revocations: [revocation('r1'), revocation('r2')] }));
      send('{"type":"revocations","revocations":[{"name":"r3"}]}\n');
      send('{"type":"revocations","revocations":"everyone"}\n');
      await eventually(async () => rejected.length === 2, 5_000, 'malformed revocations refused');
      expect(rejected.every((e) => e instanceof ConfigError)).toBe(true);
      expect(changes).toHaveLength(1);

      // A config that carries none ends them (the operator rendered the application again).
      send(streamLine({ type: 'config', config: base }));
      await eventually(async () => changes.length === 2, 5_000, 'config applied');
      expect(changes[1]?.revocations).toEqual([]);
      expect(changes[1]?.policies).toBe(config.policies);

      // A rendered config with other policies brings them in, checked.
      const changed = testConfig(
        { policies: [{ name: 'admins' }] },
        { admins: { decision: 'allow', include: [{ groups: ['admins'] }] } },
      );
      send(streamLine({ type: 'config', config: changed }));
      await eventually(async () => changes.length === 3, 5_000, 'changed policies applied');
      expect(changes[2]?.policies).toEqual(changed.policies);
      expect(changes[2]?.policies).not.toBe(config.policies);
    } finally {
      source.close();
    }
  });

  it('a config of a later version (a field this sidecar does not know) is refused, and still ends the sessions it revokes', async () => {
    const { changes, rejected, source } = startSource();
    try {
      stream = undefined;
      const first = source.start();
      await eventually(async () => stream !== undefined, 5_000, 'stream open');
      const opened = streamsOpened;
      const send = (line: string) => stream?.write(line);
      const base = testConfig();
      send(streamLine({ type: 'config', config: base }));
      const config = await first;

      // The operator, upgraded, renders the application with a setting of its version: this
      // sidecar cannot take the config, but the revocation in it ends the thief's session here.
      const { generation: _, ...body } = base;
      const later = withRevocations(
        { ...body, upstream: { ...base.upstream, settingOfALaterVersion: true } } as unknown as SidecarConfig,
        [revocation('stolen')],
      );
      send(streamLine({ type: 'config', config: later }));
      await eventually(async () => changes.length === 1, 5_000, 'the revocation applied');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.errors.map((e) => e.path).join()).toContain('settingOfALaterVersion');
      expect(changes[0]?.revocations.map((r) => r.name)).toEqual(['stolen']);
      expect(changes[0]?.policies).toBe(config.policies);
      expect(changes[0]?.upstream).toEqual(base.upstream);

      // A change to the operator's revocations applies in step with it: no reconnection.
      send(
        streamLine({
          type: 'revocations-changed',
          added: [revocation('sign-out')],
          removed: [],
          generation: withRevocations(later, [revocation('stolen'), revocation('sign-out')]).generation,
        }),
      );
      await eventually(async () => changes.length === 2, 5_000, 'the change applied');
      expect(changes[1]?.revocations.map((r) => r.name)).toEqual(['sign-out', 'stolen']);
      await new Promise((r) => setTimeout(r, 300));
      expect(streamsOpened).toBe(opened);

      // A config it can take again ends the later version's: it is the operator's once more.
      send(streamLine({ type: 'config', config: withRevocations(base, [revocation('stolen')]) }));
      await eventually(async () => changes.length === 3, 5_000, 'the config applied');
      expect(changes[2]?.revocations.map((r) => r.name)).toEqual(['stolen']);
      expect(rejected).toHaveLength(1);
    } finally {
      source.close();
    }
  });
});
