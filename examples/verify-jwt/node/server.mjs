// An application behind Gatehouse that trusts no identity header: it verifies the identity JWT
// the sidecar stamps on every request (X-Gatehouse-Jwt-Assertion) against the application's
// published keys, and answers who the caller is. One library (jose), Node.js 20 or later:
//
//   npm ci
//   GATEHOUSE_JWKS_URL=http://127.0.0.1:4180/.gatehouse/jwks.json \
//   GATEHOUSE_ISSUER=https://wiki.example.com \
//   GATEHOUSE_AUDIENCE=gatehouse:corp/wiki \
//   LISTEN=127.0.0.1:8080 node server.mjs
//
// In the injected pod the keys come from the sidecar over loopback (its port, 4180 unless the
// pod's gatehouse.dev/listen-port says otherwise); elsewhere from the application's own URL,
// https://wiki.example.com/.gatehouse/jwks.json.
//
// The HTTP server is Node's own, to keep the example whole; in an application, Keys and the
// jwtVerify call go into its framework's middleware (an Express or Fastify hook).

import { createServer } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';

// The header the sidecar puts the JWT in (authentication.identityHeaders.assertion).
const ASSERTION_HEADER = 'x-gatehouse-jwt-assertion';
// Only the algorithms the sidecar signs with: never "none", never HS256 with a public key.
const ALGORITHMS = ['ES256', 'RS256'];
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** The keys could not be fetched: nothing can be verified, so nothing is served. */
class KeysUnavailable extends Error {}

/**
 * The application's published keys: fetched at start, again every hour (in a cluster the
 * operator publishes a new key a day before it signs, so the hourly fetch learns it first), and
 * when a token names a key not seen yet (a standalone rotation, keys replaced by hand) at most
 * once a minute: tokens naming made-up keys cannot make it fetch more often than that. One fetch
 * at a time; a request that needs the keys waits for the fetch in progress, never for a turn.
 *
 * jose's createRemoteJWKSet is not used as it is: its cooldown counts the fetch at start, so a
 * rotation within the cooldown of a start would be refused until the cooldown ends.
 */
class Keys {
  #url;
  #keySet = null;
  #kids = new Set();
  #fetching = null;
  // When the hourly fetch is due, and when a key not seen yet may have the next fetch. The fetch
  // at start does not count against that minute: a rotation right after a start gets its fetch.
  #due = Number.NEGATIVE_INFINITY;
  #unknownTurn = Number.NEGATIVE_INFINITY;

  constructor(url) {
    this.#url = url;
    this.#fetch();
  }

  #fetch() {
    this.#fetching ??= (async () => {
      try {
        const response = await fetch(this.#url, { redirect: 'error', signal: AbortSignal.timeout(5_000) });
        if (!response.ok) throw new Error(`${this.#url} answered ${response.status}`);
        const jwks = await response.json();
        this.#keySet = createLocalJWKSet(jwks);
        this.#kids = new Set(jwks.keys.map((key) => key.kid));
        this.#due = performance.now() + HOUR;
      } catch (error) {
        // The keys held go on serving; tried again in a minute.
        this.#due = performance.now() + MINUTE;
        console.error(`keys not fetched: ${error.message}`);
      } finally {
        this.#fetching = null;
      }
    })();
    return this.#fetching;
  }

  /** The key set to verify this token with; KeysUnavailable when none was ever fetched. */
  async forToken(token) {
    let kid;
    try {
      ({ kid } = decodeProtectedHeader(token));
    } catch {
      throw new errors.JWTInvalid('not a JWT');
    }
    const now = performance.now();
    if (now >= this.#due) this.#fetch();
    if (!this.#kids.has(kid) && now >= this.#unknownTurn) {
      this.#unknownTurn = now + MINUTE;
      await this.#fetch();
    } else if (this.#keySet === null && this.#fetching !== null) {
      await this.#fetching;
    }
    if (this.#keySet === null) throw new KeysUnavailable('no keys fetched yet');
    return this.#keySet;
  }
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(1);
  }
  return value;
}

const keys = new Keys(required('GATEHOUSE_JWKS_URL'));
const issuer = required('GATEHOUSE_ISSUER');
const audience = required('GATEHOUSE_AUDIENCE');
const listen = process.env.LISTEN ?? '127.0.0.1:8080';
const colon = listen.lastIndexOf(':');

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer(async (req, res) => {
  const token = req.headers[ASSERTION_HEADER];
  try {
    if (typeof token !== 'string') throw new errors.JWTInvalid('no identity JWT');
    const { payload } = await jwtVerify(token, await keys.forToken(token), {
      algorithms: ALGORITHMS,
      issuer,
      audience,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: 10,
    });
    const { sub, email, kind, groups, amr, acr } = payload;
    answer(res, 200, { sub, email, kind, groups, amr, acr });
  } catch (error) {
    if (error instanceof KeysUnavailable) {
      console.error(`keys unavailable: ${error.message}`);
      answer(res, 503, { error: 'keys unavailable' });
    } else if (error instanceof errors.JOSEError) {
      // Not through the sidecar, or not for this application: trust nothing of the request.
      console.error(`refused: ${error.message}`);
      answer(res, 401, { error: 'unauthorized' });
    } else {
      console.error(`error: ${error.message}`);
      answer(res, 500, { error: 'internal error' });
    }
  }
});
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () => {
  console.error(`listening on ${listen}`);
});
