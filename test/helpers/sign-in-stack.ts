import { connect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Static } from 'typebox';
import { Agent, type Dispatcher } from 'undici';
import type { AccessApplication } from '../../contract/api/access-application.ts';
import type { AccessPolicy } from '../../contract/api/access-policy.ts';
import type { IdentityProvider } from '../../contract/api/authentication.ts';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { type DevProvider, type DevUser, startDevProvider } from '../../examples/demo/dev-provider.ts';
import { testConfig } from './fixtures.ts';
import { type InProcessSidecar, startSidecar } from './in-process.ts';
import { selfSignedCertificate } from './tls.ts';
import { startUpstream, type TestUpstream } from './upstream.ts';

export const CLIENT_ID = 'gatehouse';
export const CLIENT_SECRET = 'dev-client-secret';

/** Policies of the sign-in tests: /healthz is public, engineers may use everything else. */
export const SIGN_IN_POLICIES: Record<string, AccessPolicy['spec']> = {
  health: { decision: 'bypass', include: [{ paths: ['/healthz'] }] },
  engineers: { decision: 'allow', include: [{ groups: ['engineering'] }] },
};

/** A sidecar with OIDC sign-in against real development providers, and an upstream that echoes. */
export interface SignInStack {
  readonly sidecar: InProcessSidecar;
  readonly upstream: TestUpstream;
  readonly providers: readonly DevProvider[];
  readonly origin: string;
  readonly config: SidecarConfig;
  /** What a browser reaches the origin with: a client that trusts the ingress's certificate (https), else undici's default. */
  readonly dispatcher: Dispatcher | undefined;
  close(): Promise<void>;
}

export interface SignInStackOptions {
  readonly providers?: number;
  readonly accessTokenTtl?: number;
  readonly users?: Readonly<Record<string, DevUser>>;
  readonly authentication?: Partial<NonNullable<AccessApplication['spec']['authentication']>>;
  readonly policies?: Record<string, AccessPolicy['spec']>;
  /**
   * Users reach the sidecar over https, through an ingress stand-in that ends TLS and passes the
   * bytes on (the external URL is https, so the session cookies are Secure and `__Host-`).
   */
  readonly https?: boolean;
  /** The host name users reach it at (a browser maps it to 127.0.0.1); by default 127.0.0.1. */
  readonly host?: string;
  /** The application; by default one that answers every request with its URL and headers as JSON. */
  readonly application?: Parameters<typeof startUpstream>[0];
  /** Keep-alive connections to the application (`spec.upstream.maxConnections`); 128 by default. */
  readonly upstreamConnections?: number;
  /** The path of externalUrl (`/wiki`): the application as served under a path of a shared host. */
  readonly basePath?: string;
  /** Every provider's `groupsOverage` (groups left out of ID tokens listed from Microsoft Graph). */
  readonly groupsOverage?: Static<typeof IdentityProvider>['groupsOverage'];
}

/** Starts upstream, sidecar and provider(s); the provider's client is registered for this sidecar's port. */
export async function startSignInStack(options: SignInStackOptions = {}): Promise<SignInStack> {
  const upstream = await startUpstream(
    options.application ??
      ((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
      }),
  );
  const sidecar = await startSidecar(undefined);
  const ingress = options.https ? await startTlsIngress(sidecar.port) : undefined;
  const host = options.host ?? '127.0.0.1';
  const origin = ingress ? `https://${host}:${ingress.port}` : `http://${host}:${sidecar.port}`;
  const externalUrl = origin + (options.basePath ?? '');
  const providers: DevProvider[] = [];
  for (let i = 0; i < (options.providers ?? 1); i++) {
    providers.push(
      await startDevProvider({
        clients: [
          {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: [`${externalUrl}/.gatehouse/callback`],
            post_logout_redirect_uris: [`${externalUrl}/.gatehouse/signed-out`],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
          },
        ],
        ...(options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {}),
        ...(options.users ? { users: options.users } : {}),
      }),
    );
  }
  const policies = options.policies ?? SIGN_IN_POLICIES;
  const config = testConfig(
    {
      ...(options.host ? { hosts: ['localhost', '127.0.0.1', options.host] } : {}),
      upstream: {
        url: upstream.url,
        ...(options.upstreamConnections ? { maxConnections: options.upstreamConnections } : {}),
      },
      policies: Object.keys(policies).map((name) => ({ name })),
      authentication: {
        externalUrl,
        identityProviders: providers.map((p, i) => ({
          name: i === 0 ? 'dev' : `dev${i + 1}`,
          displayName: i === 0 ? 'Development SSO' : `Development SSO ${i + 1}`,
          issuer: p.issuer,
          clientId: CLIENT_ID,
          clientSecretRef: { name: 'idp', key: 'client-secret' },
          scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
          ...(options.groupsOverage ? { groupsOverage: options.groupsOverage } : {}),
        })),
        ...options.authentication,
      },
    },
    policies,
    { idp: { 'client-secret': CLIENT_SECRET } },
  );
  sidecar.sidecar.install(config);
  return {
    sidecar,
    upstream,
    providers,
    origin,
    config,
    dispatcher: ingress?.dispatcher,
    async close() {
      await ingress?.close();
      await sidecar.close();
      await upstream.close();
      for (const p of providers) await p.close();
    },
  };
}

/** An ingress stand-in on loopback: ends TLS (a self-signed certificate for 127.0.0.1) and passes the bytes to `port`. */
async function startTlsIngress(
  port: number,
): Promise<{ port: number; dispatcher: Agent; close(): Promise<void> }> {
  const { cert, key } = selfSignedCertificate();
  const open = new Set<{ destroy(): void }>();
  const server: TlsServer = createTlsServer({ cert, key }, (client) => {
    const upstream = connect(port, '127.0.0.1');
    open.add(client);
    client.once('close', () => open.delete(client));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dispatcher = new Agent({ connect: { ca: cert } });
  return {
    port: (server.address() as { port: number }).port,
    dispatcher,
    async close() {
      await dispatcher.destroy();
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
