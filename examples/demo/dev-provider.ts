import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';

/** A demo user of the development provider. */
export interface DevUser {
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly emailVerified?: boolean;
  /**
   * The groups are left out of tokens and named as a distributed claim instead, as Microsoft
   * Entra ID does for an account in more than 200 groups (its groups overage).
   */
  readonly groupsOverage?: boolean;
}

export const DEMO_USERS: Readonly<Record<string, DevUser>> = {
  alice: { email: 'alice@example.com', name: 'Alice Admin', groups: ['engineering', 'admins'] },
  bob: { email: 'bob@example.com', name: 'Bob Builder', groups: ['sales'] },
};

export interface DevProviderOptions {
  readonly port?: number;
  readonly host?: string;
  readonly clients: readonly ClientMetadata[];
  readonly users?: Readonly<Record<string, DevUser>>;
  /** Token lifetimes in seconds (short ones exercise refresh). */
  readonly accessTokenTtl?: number;
  readonly idTokenTtl?: number;
  /**
   * Enables OpenID Connect Back-Channel Logout 1.0: a client registered with
   * backchannel_logout_uri gets a logout token when its user's provider session ends.
   */
  readonly backchannelLogout?: boolean;
  /** Signing keys (private JWKs); default: oidc-provider's development keys. */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
}

/** A running development OpenID Provider. */
export interface DevProvider {
  readonly issuer: string;
  readonly provider: Provider;
  /** Requests seen per path (e.g. /jwks), to show the relying party does not hammer the provider. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Starts oidc-provider (a certified OpenID Provider) on loopback with development sign-in pages:
 * any login name is accepted; known demo users get their email and groups. Consent is implied.
 */
export async function startDevProvider(options: DevProviderOptions): Promise<DevProvider> {
  const users = options.users ?? DEMO_USERS;
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  const configuration: Configuration = {
    clients: [...options.clients],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      ...(options.backchannelLogout ? { backchannelLogout: { enabled: true } } : {}),
    },
    ...(options.jwks ? { jwks: options.jwks as Configuration['jwks'] } : {}),
    // Outgoing calls (back-channel logout) go to relying parties on loopback, which oidc-provider's
    // SSRF guard refuses by design: the development provider only ever talks to loopback.
    fetch: (url: string | URL | Request, init?: RequestInit) => {
      const { dispatcher: _, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(url, rest);
    },
    pkce: { required: () => true },
    cookies: { keys: ['gatehouse-demo-provider-cookie-key'] },
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: options.idTokenTtl ?? 3600,
      AuthorizationCode: 60,
      Grant: 86_400,
      Interaction: 600,
      Session: 86_400,
      RefreshToken: 86_400,
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    async loadExistingGrant(ctx) {
      const session = ctx.oidc.session;
      const client = ctx.oidc.client;
      if (!session?.accountId || !client) return undefined;
      const existing = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid email profile groups offline_access');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'preferred_username', 'groups']);
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, sub) {
      const user = users[sub];
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: user?.email ?? `${sub}@example.com`,
            email_verified: user?.emailVerified ?? true,
            name: user?.name ?? sub,
            preferred_username: sub,
            ...(user?.groupsOverage
              ? {
                  _claim_names: { groups: 'src1' },
                  _claim_sources: { src1: { endpoint: `${issuer}/users/${sub}/getMemberObjects` } },
                }
              : { groups: [...(user?.groups ?? [])] }),
          };
        },
      };
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.proxy = false;
  const hits = new Map<string, number>();
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    void handle(req, res);
  });
  return {
    issuer,
    provider,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
