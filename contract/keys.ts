import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { AssertionAlgorithm } from './api/authentication.ts';
import type { ApplicationKeys } from './config/auth-config.ts';

/** Keys of the Secret that holds an application's keys (written by the operator, or by hand in file mode). */
export const COOKIE_KEYS_FIELD = 'cookie-keys';
export const SIGNING_KEYS_FIELD = 'signing-keys';

/** Name of the Secret holding an application's keys. */
export function keysSecretName(application: string): string {
  return `${application}-gatehouse-keys`;
}

function keyId(): string {
  return randomBytes(9).toString('base64url');
}

/** Generates a signing key for the algorithm as a private JWK with kid and alg. */
export function generateSigningJwk(algorithm: AssertionAlgorithm): ApplicationKeys['signing'][number] {
  const pair =
    algorithm === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return { ...jwk, kty: jwk.kty as 'EC' | 'RSA', d: jwk.d as string, kid: keyId(), alg: algorithm };
}

/** Fresh keys for one application: a 256-bit cookie key and a signing key. */
export function generateApplicationKeys(algorithm: AssertionAlgorithm): ApplicationKeys {
  return {
    cookie: [{ kid: keyId(), secret: randomBytes(32).toString('base64url') }],
    signing: [generateSigningJwk(algorithm)],
  };
}

/** The Secret data (string values) that holds these keys. */
export function keysToSecretData(keys: ApplicationKeys): Record<string, string> {
  return {
    [COOKIE_KEYS_FIELD]: JSON.stringify(keys.cookie),
    [SIGNING_KEYS_FIELD]: JSON.stringify({ keys: keys.signing }),
  };
}

/** Reads keys back from Secret data; the shape is checked by the config schema afterwards. */
export function keysFromSecretData(data: Readonly<Record<string, string>>): unknown {
  const cookie = data[COOKIE_KEYS_FIELD];
  const signing = data[SIGNING_KEYS_FIELD];
  if (cookie === undefined || signing === undefined) {
    throw new Error(`must hold ${COOKIE_KEYS_FIELD} and ${SIGNING_KEYS_FIELD}`);
  }
  return { cookie: JSON.parse(cookie) as unknown, signing: (JSON.parse(signing) as { keys?: unknown }).keys };
}

/** A signing key ready to use: the private key for signing, its public JWK for the JWKS. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicJwk: Readonly<Record<string, string>>;
}

/** Imports the configured signing keys; throws with the key's index when one is unusable. */
export function importSigningKeys(keys: ApplicationKeys['signing']): SigningKey[] {
  return keys.map((jwk, i) => {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } catch (error) {
      throw new Error(`keys.signing[${i}]: not a usable private key (${(error as Error).message})`);
    }
    const type = privateKey.asymmetricKeyType;
    const details = privateKey.asymmetricKeyDetails;
    const fits =
      jwk.alg === 'ES256'
        ? type === 'ec' && details?.namedCurve === 'prime256v1'
        : type === 'rsa' && (details?.modulusLength ?? 0) >= 2048;
    if (!fits) throw new Error(`keys.signing[${i}]: key type does not fit ${jwk.alg}`);
    const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
    return {
      kid: jwk.kid,
      alg: jwk.alg,
      privateKey,
      publicJwk: Object.freeze({ ...pub, kid: jwk.kid, alg: jwk.alg, use: 'sig' }),
    };
  });
}
