import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from './control-plane.ts';
import { dial, type RawClient, statusesOf, watchSocket } from './hostile.ts';
import { type LoggingProcess, startLoggingProcess } from './logging-process.ts';
import { applicationYaml, policyYaml, SIDECAR_ENV, sidecarArgv, writeConfigDir } from './sidecar-process.ts';

/** Sign-ins driven over raw sockets against a sidecar on loopback, from any 127.x address. */
export interface RawSignIn {
  /** One HTTP/1.1 GET on a new connection from `from` (`Connection: close` unless `extra` says otherwise). */
  send(path: string, from: string, cookie?: string, extra?: string): Promise<RawClient>;
  /** Starts a sign-in: its state, its login cookie and the provider URL it redirects to. */
  start(from: string): Promise<{ state: string; cookie: string; location: URL }>;
  /** A whole sign-in through the provider; resolves with the session cookies (`name=value; ...`). */
  complete(from: string): Promise<string>;
  /** Destroys every socket it opened. */
  close(): void;
}

export const headerOf = (text: string, name: string): string | undefined =>
  new RegExp(`^${name}: ([^\\r]*)`, 'im').exec(text)?.[1];

export function rawSignIn(port: number, host: string): RawSignIn {
  const sockets: Socket[] = [];
  const send: RawSignIn['send'] = async (path, from, cookie = '', extra = 'Connection: close\r\n') => {
    const socket = await dial(port, from);
    if (!socket) throw new Error(`cannot connect from ${from}`);
    sockets.push(socket);
    const client = watchSocket(socket);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}${extra}\r\n`,
    );
    return client;
  };
  const start: RawSignIn['start'] = async (from) => {
    const login = await send('/.gatehouse/login?rd=/', from);
    const text = await login.waitFor(/\r\n\r\n/);
    const location = new URL(headerOf(text, 'location') ?? '');
    const cookie = (headerOf(text, 'set-cookie') ?? '').split(';')[0] as string;
    return { state: location.searchParams.get('state') ?? '', cookie, location };
  };
  return {
    send,
    start,
    async complete(from) {
      const signIn = await start(from);
      const authorize = await fetch(signIn.location, { redirect: 'manual' });
      const back = new URL(authorize.headers.get('location') ?? '');
      const callback = await send(`${back.pathname}${back.search}`, from, signIn.cookie);
      const answer = await callback.waitFor(/\r\n\r\n/, 3_000);
      if (statusesOf(answer)[0] !== 302) throw new Error(`the sign-in did not finish: ${answer}`);
      const cookies = [...answer.matchAll(/^set-cookie: ([^;\r]*)/gim)].map((m) => m[1] as string);
      return cookies.filter((c) => !c.endsWith('=')).join('; ');
    },
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** The built sidecar, as shipped, for one application that signs in with `issuer` (client id `gatehouse`). */
export interface SignInSidecar {
  readonly process: LoggingProcess;
  /** The config directory it reads (app.yaml, and any other files it was given). */
  readonly configDir: string;
  readonly port: number;
  readonly host: string;
  readonly signIns: RawSignIn;
  stop(): Promise<number | null>;
}

/** What startSignInSidecar gives the application by default: members of `engineering` may use it. */
const ENGINEERS: Readonly<Record<string, Record<string, unknown>>> = {
  engineers: { decision: 'allow', include: [{ groups: ['engineering'] }] },
};

/**
 * Starts it on a free loopback port; `flags` go to `gatehouse sidecar`; `session`: the
 * application's session settings (e.g. `{ idleTimeout: '8s' }`); `policies`: the application's
 * policies in order, by name (by default members of `engineering` may use everything); `files`:
 * more files of the config directory by name (a keys Secret, say), written before it starts.
 */
export async function startSignInSidecar(
  issuer: string,
  upstreamUrl: string,
  flags: readonly string[] = [],
  session: Record<string, string> = {},
  policies: Readonly<Record<string, Record<string, unknown>>> = ENGINEERS,
  files: Readonly<Record<string, string>> = {},
): Promise<SignInSidecar> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const dir = writeConfigDir(
    `${applicationYaml({
      hosts: [host],
      upstream: { url: upstreamUrl },
      policies: Object.keys(policies).map((name) => ({ name })),
      authentication: {
        externalUrl: `http://${host}`,
        identityProviders: [{ name: 'corp', issuer, clientId: 'gatehouse' }],
        ...(Object.keys(session).length > 0 ? { session } : {}),
      },
    })}${Object.entries(policies)
      .map(([name, spec]) => `---\n${policyYaml(name, spec)}`)
      .join('')}`,
  );
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const proc = await startLoggingProcess({
    name: 'sidecar',
    argv: sidecarArgv(dir, host, flags),
    startedType: 'sidecar_started',
    env: SIDECAR_ENV as Record<string, string>,
  });
  const signIns = rawSignIn(port, host);
  return {
    process: proc,
    configDir: dir,
    port,
    host,
    signIns,
    stop() {
      signIns.close();
      return proc.stop();
    },
  };
}

/** GET `path` of `at` from `from` with `cookie`, as a page (`extra` = PAGE) or an API call; read to its close. */
export async function getSignedIn(
  at: SignInSidecar,
  path: string,
  from: string,
  cookie: string,
  extra = 'Connection: close\r\n',
) {
  const client = await at.signIns.send(path, from, cookie, extra);
  await client.closed;
  const text = client.received();
  const line = await at.process.waitForLine(
    (l) => l.type === 'request' && l.clientIp === from && (l.uri === path || l.uri === path.split('?')[0]),
  );
  return { status: statusesOf(text)[0], text, line };
}

/**
 * Follows a login route URL with the session `cookie` through the provider to the callback; the
 * provider URL it was sent to, and the callback's answer.
 */
export async function signInAgain(at: SignInSidecar, loginPath: string, from: string, cookie: string) {
  const login = await at.signIns.send(loginPath, from, cookie);
  const head = await login.waitFor(/\r\n\r\n/);
  const location = new URL(headerOf(head, 'location') ?? '');
  const loginCookie = (headerOf(head, 'set-cookie') ?? '').split(';')[0] as string;
  const authorize = await fetch(location, { redirect: 'manual' });
  const back = new URL(authorize.headers.get('location') ?? '');
  const cookies = [cookie, loginCookie].filter((c) => c !== '').join('; ');
  const callback = await at.signIns.send(`${back.pathname}${back.search}`, from, cookies);
  await callback.closed;
  const answer = callback.received();
  const session = [...answer.matchAll(/^set-cookie: (_gatehouse[^;\r]*)/gim)]
    .map((m) => m[1] as string)
    .filter((c) => !c.endsWith('='))
    .join('; ');
  return { providerUrl: location, status: statusesOf(answer)[0], answer, session };
}
