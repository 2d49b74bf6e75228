import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { SidecarConfig } from '../../contract/config/sidecar-config.ts';
import { testConfig } from './fixtures.ts';

/** How the forged provider bends the ID token it returns. */
export type Forgery =
  | 'valid'
  | 'wrong_iss'
  | 'wrong_aud'
  | 'alg_none'
  | 'hs256_public_key'
  | 'expired'
  | 'unknown_kid'
  | 'wrong_nonce'
  | 'missing_nonce'
  | 'email_verified_string'
  | 'email_verified_zero'
  | 'token_endpoint_reset'
  | 'token_endpoint_503'
  /** Codes it issued are answered; any other code is held unanswered (a provider slow under a flood). */
  | 'unknown_codes_hang'
  /** Codes are answered with a refresh token that is due in a second; every refresh is held unanswered. */
  | 'refresh_hangs'
  /** Answers without end, as fast as they are read: the discovery document, the keys, the token. */
  | 'discovery_endless'
  | 'jwks_endless'
  | 'token_endless'
  /** A token answer that declares 2 GiB and sends a few bytes. */
  | 'token_declared_huge';

/** A hostile OpenID Provider for relying-party tests: it follows the protocol but forges ID tokens. */
export interface ForgedProvider {
  readonly issuer: string;
  forgery: Forgery;
  /** Claims of the ID tokens it issues from now on, over its defaults (sub, email, groups). */
  claims: Record<string, unknown>;
  /**
   * When the user last authenticated here (epoch seconds), sent as `auth_time`; undefined: not
   * sent. An authorization request with `max_age` older than that authenticates the user anew
   * (sets it to now), as providers do, unless `ignoresMaxAge`.
   */
  authTime: number | undefined;
  ignoresMaxAge: boolean;
  /**
   * An authorization request with `acr_values` authenticates the user anew with the first class
   * it lists (sets `auth_time` to now and the `acr` claim to it), as providers that step up do,
   * unless `ignoresAcrValues`.
   */
  ignoresAcrValues: boolean;
  /** The `max_age` of every authorization request, in order (null: none). */
  readonly maxAges: (string | null)[];
  /** The `acr_values` of every authorization request, in order (null: none). */
  readonly acrValues: (string | null)[];
  /** Requests per path (e.g. /jwks). */
  readonly hits: Map<string, number>;
  /** Token requests open now, the most open at once, and the codes of those held unanswered. */
  readonly tokenRequests: {
    open: number;
    peak: number;
    readonly heldCodes: Set<string>;
    /** Answers the refreshes held (forgery `refresh_hangs`), still open, with fresh tokens; says how many. */
    releaseRefreshes(): number;
  };
  /** Answers without end open now, and the bytes they wrote in all. */
  readonly endless: { open: number; bytes: number };
  close(): Promise<void>;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Starts the forged provider on loopback; client id `gatehouse`, no client authentication checked. */
export async function startForgedProvider(clientId: string): Promise<ForgedProvider> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { nonce: string; challenge: string; authTime: number | undefined }>();
  const hits = new Map<string, number>();
  /** What answers each refresh held unanswered, until its client leaves. */
  const heldRefreshes = new Set<() => void>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: ForgedProvider = {
    issuer,
    forgery: 'valid',
    claims: {},
    authTime: undefined,
    ignoresMaxAge: false,
    ignoresAcrValues: false,
    maxAges: [],
    acrValues: [],
    hits,
    tokenRequests: {
      open: 0,
      peak: 0,
      heldCodes: new Set(),
      releaseRefreshes() {
        const answers = [...heldRefreshes];
        heldRefreshes.clear();
        for (const answer of answers) answer();
        return answers.length;
      },
    },
    endless: { open: 0, bytes: 0 },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const idToken = async (nonce: string, authTime?: number): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const f = state.forgery;
    const claims: Record<string, unknown> = {
      sub: 'mallory',
      email: 'mallory@example.com',
      email_verified: f === 'email_verified_string' ? 'false' : f === 'email_verified_zero' ? 0 : true,
      groups: ['engineering'],
      ...state.claims,
      ...(authTime !== undefined ? { auth_time: authTime } : {}),
      ...(f === 'missing_nonce' ? {} : { nonce: f === 'wrong_nonce' ? 'another-nonce' : nonce }),
    };
    const base = {
      iss: f === 'wrong_iss' ? 'https://evil.example' : issuer,
      aud: f === 'wrong_aud' ? 'someone-else' : clientId,
      iat: f === 'expired' ? now - 7200 : now,
      exp: f === 'expired' ? now - 3600 : now + 300,
      ...claims,
    };
    if (f === 'alg_none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(base)}.`;
    if (f === 'hs256_public_key') {
      const pem = publicKey.export({ type: 'spki', format: 'pem' });
      return new SignJWT(base)
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .sign(new Uint8Array(Buffer.from(pem)));
    }
    if (f === 'unknown_kid') {
      return new SignJWT(base)
        .setProtectedHeader({ alg: 'RS256', kid: `unknown-${randomBytes(6).toString('hex')}` })
        .sign(other.privateKey);
    }
    return new SignJWT(base).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
  };

  const chunk = Buffer.alloc(64 * 1024, 0x61);
  /** A JSON answer that never ends: 64 KiB chunks as fast as the reader takes them, until it leaves. */
  const endlessAnswer = (res: import('node:http').ServerResponse): void => {
    state.endless.open++;
    res.on('close', () => state.endless.open--);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"a":"');
    const pump = (): void => {
      while (!res.destroyed) {
        state.endless.bytes += chunk.length;
        if (!res.write(chunk)) return;
      }
    };
    res.on('drain', pump);
    pump();
  };

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const endless =
      (url.pathname === '/.well-known/openid-configuration' && state.forgery === 'discovery_endless') ||
      (url.pathname === '/jwks' && state.forgery === 'jwks_endless') ||
      (url.pathname === '/token' && state.forgery === 'token_endless');
    if (endless) {
      endlessAnswer(res);
      return;
    }
    if (url.pathname === '/token' && state.forgery === 'token_declared_huge') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 ** 31) });
      res.write('{"access_token":"');
      return;
    }
    const json = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    } else if (url.pathname === '/jwks') {
      json(200, { keys: [publicJwk] });
    } else if (url.pathname === '/authorize') {
      const code = randomBytes(16).toString('hex');
      const maxAge = url.searchParams.get('max_age');
      state.maxAges.push(maxAge);
      const acrValues = url.searchParams.get('acr_values');
      state.acrValues.push(acrValues);
      const now = Math.floor(Date.now() / 1000);
      if (acrValues !== null && !state.ignoresAcrValues) {
        state.claims = { ...state.claims, acr: acrValues.split(' ')[0] };
        state.authTime = now;
      }
      if (
        maxAge !== null &&
        !state.ignoresMaxAge &&
        (state.authTime === undefined || now - state.authTime > Number(maxAge))
      )
        state.authTime = now;
      codes.set(code, {
        nonce: url.searchParams.get('nonce') ?? '',
        challenge: url.searchParams.get('code_challenge') ?? '',
        authTime: state.authTime,
      });
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      res.end();
    } else if (url.pathname === '/token' && state.forgery === 'token_endpoint_reset') {
      req.socket.resetAndDestroy();
    } else if (url.pathname === '/token' && state.forgery === 'token_endpoint_503') {
      json(503, { error: 'temporarily_unavailable' });
    } else if (url.pathname === '/token' && req.method === 'POST') {
      const counted = state.tokenRequests;
      counted.open++;
      counted.peak = Math.max(counted.peak, counted.open);
      res.on('close', () => counted.open--);
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') === 'refresh_token' && state.forgery === 'refresh_hangs') {
          const answer = (): void =>
            json(200, {
              access_token: randomBytes(16).toString('hex'),
              token_type: 'Bearer',
              expires_in: 3600,
              refresh_token: randomBytes(16).toString('hex'),
            });
          heldRefreshes.add(answer);
          res.on('close', () => heldRefreshes.delete(answer));
          return;
        }
        const grant = codes.get(form.get('code') ?? '');
        if (!grant && state.forgery === 'unknown_codes_hang') {
          const code = form.get('code') ?? '';
          counted.heldCodes.add(code);
          res.on('close', () => counted.heldCodes.delete(code));
          return;
        }
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!grant || !verifier || challenge !== grant.challenge) {
          json(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          return;
        }
        void idToken(grant.nonce, grant.authTime).then((id_token) =>
          json(200, {
            access_token: randomBytes(16).toString('hex'),
            token_type: 'Bearer',
            expires_in: state.forgery === 'refresh_hangs' ? 1 : 3600,
            ...(state.forgery === 'refresh_hangs' ? { refresh_token: randomBytes(16).toString('hex') } : {}),
            id_token,
          }),
        );
      });
    } else {
      json(404, { error: 'not_found' });
    }
  });
  return state;
}

/**
 * The config of a sidecar at `origin` in front of `upstreamUrl` whose one provider, `forged`, is
 * the forged one; every signed-in user is let in. `scopes`: what the sign-in asks for.
 */
export function forgedProviderConfig(
  origin: string,
  upstreamUrl: string,
  issuer: string,
  scopes?: string[],
): SidecarConfig {
  return testConfig(
    {
      upstream: { url: upstreamUrl },
      policies: [{ name: 'users' }],
      authentication: {
        externalUrl: origin,
        identityProviders: [{ name: 'forged', issuer, clientId: 'gatehouse', ...(scopes ? { scopes } : {}) }],
      },
    },
    { users: { decision: 'allow', include: [{ authenticated: true }] } },
  );
}
