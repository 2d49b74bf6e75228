import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFECT_EXIT_CODE } from '../../lib/defects.ts';
import { assertLogLinesMatchSchema } from '../helpers/log-line-check.ts';
import {
  PLANTED_REJECTION_LOGGED,
  PLANTED_THROW,
  sidecarWithPlantedDefect,
} from '../helpers/planted-defect.ts';
import {
  applicationYaml,
  loopbackAppDir,
  type SidecarProcess,
  startSidecarProcess,
  writeConfigDir,
} from '../helpers/sidecar-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// A defect anywhere in the process (an error nothing handles) ends the sidecar, as Node.js would.
// What the sidecar owes on the way out: the lines of the requests it answered (they gather for up
// to 5 ms before each write and were lost with the process), and the reason on the log stream
// (it went to stderr as text only). The defect is planted by a module loaded before the sidecar
// (`--import`), which throws or rejects, outside every handler, on a signal.

let upstream: TestUpstream;
let configDir: string;

beforeAll(async () => {
  upstream = await startUpstream();
  configDir = loopbackAppDir(upstream.url);
});
afterAll(async () => {
  await upstream?.close();
});

const startWithDefect = (): Promise<SidecarProcess> =>
  startSidecarProcess(configDir, [], {}, sidecarWithPlantedDefect());

/** Requests one after another on one keep-alive connection; resolves with their paths once all are answered. */
async function answered(sidecar: SidecarProcess, count: number, tag: string): Promise<string[]> {
  const agent = new Agent({ connections: 1 });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `/${tag}-${i}`;
    const response = await request(`http://127.0.0.1:${sidecar.port}${path}`, { dispatcher: agent });
    await response.body.dump();
    expect(response.statusCode).toBe(200);
    paths.push(path);
  }
  void agent.close();
  return paths;
}

const exited = (sidecar: SidecarProcess) =>
  new Promise<number | null>((resolve) => {
    if (sidecar.child.exitCode !== null) resolve(sidecar.child.exitCode);
    else sidecar.child.once('exit', (code) => resolve(code));
  });

/**
 * A sidecar with the defect planted answers 40 requests, then the defect goes off at once after
 * the last answer (inside the log's 5 ms batch); resolves once the process has exited and its
 * stdout is read, with its exit code and the answered requests that have no line.
 */
async function defectAfterAnswers(signal: NodeJS.Signals, tag: string) {
  const sidecar = await startWithDefect();
  const exit = exited(sidecar);
  const paths = await answered(sidecar, 40, tag);
  sidecar.child.kill(signal);
  const code = await exit;
  await sidecar.stop(); // stdout fully read
  const logged = new Set(sidecar.lines.map((l) => l.uri));
  return { sidecar, code, unlogged: paths.filter((p) => !logged.has(p)) };
}

describe('a defect that nothing handles', () => {
  it('a throw: every answered request keeps its line, the reason is logged, and the exit is 70', async () => {
    const { sidecar, code, unlogged } = await defectAfterAnswers('SIGUSR2', 'thrown');
    expect(code).toBe(DEFECT_EXIT_CODE);
    expect(unlogged).toEqual([]);
    const failed = sidecar.lines.filter((l) => l.type === 'sidecar_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ origin: 'uncaught_exception', error: `Error: ${PLANTED_THROW}` });
    expect(String((failed[0]?.stack as string[] | undefined)?.join('\n'))).toMatch(/planted-defect\.mjs/);
    expect(sidecar.stderr()).toContain(PLANTED_THROW);
    assertLogLinesMatchSchema(sidecar.lines);
  });

  it('a rejection nobody handles: the same, with its origin', async () => {
    const { sidecar, code, unlogged } = await defectAfterAnswers('SIGWINCH', 'rejected');
    expect(code).toBe(DEFECT_EXIT_CODE);
    expect(unlogged).toEqual([]);
    expect(sidecar.lines.filter((l) => l.type === 'sidecar_failed')).toMatchObject([
      { origin: 'unhandled_rejection', error: PLANTED_REJECTION_LOGGED },
    ]);
  });

  it('an error that quotes a secret of the config: the secret is in neither the line nor stderr, whatever its shape', async () => {
    // A client secret as Keycloak makes them (32 letters and digits): shorter than the shapes
    // looked for, so only its value finds it.
    const clientSecret = 'kC7pQ2xZ9mW4tR8vB1nL6yH3sD5fG0jA';
    const dir = writeConfigDir(
      `${applicationYaml({
        hosts: ['127.0.0.1'],
        upstream: { url: upstream.url },
        authentication: {
          externalUrl: 'http://127.0.0.1:4180',
          identityProviders: [
            {
              name: 'corp',
              issuer: 'http://127.0.0.1:9/',
              clientId: 'gatehouse',
              clientSecretRef: { name: 'idp', key: 'client-secret' },
            },
          ],
        },
      })}---\napiVersion: v1\nkind: Secret\nmetadata: {name: idp}\nstringData:\n  client-secret: ${clientSecret}\n`,
    );
    const sidecar = await startSidecarProcess(
      dir,
      [],
      {},
      sidecarWithPlantedDefect(`client_secret=${clientSecret}`),
    );
    const exit = exited(sidecar);
    sidecar.child.kill('SIGUSR2');
    expect(await exit).toBe(DEFECT_EXIT_CODE);
    await sidecar.stop();
    const failed = sidecar.lines.filter((l) => l.type === 'sidecar_failed');
    expect(failed).toMatchObject([{ error: `Error: ${PLANTED_THROW} client_secret=[secret]` }]);
    expect(JSON.stringify(sidecar.lines)).not.toContain(clientSecret);
    expect(sidecar.stderr()).toContain(`${PLANTED_THROW} client_secret=[secret]`);
    expect(sidecar.stderr()).not.toContain(clientSecret);
  });
});
