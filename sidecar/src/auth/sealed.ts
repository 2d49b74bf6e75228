import { CompactEncrypt, compactDecrypt } from 'jose';
import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';

/** What a sealed value is for; a value sealed for one purpose never opens as another. */
export type SealPurpose = 'session' | 'login';

const TYP: Record<SealPurpose, string> = { session: 'gatehouse-session', login: 'gatehouse-login' };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seals and opens small JSON values as JWE (dir, A256GCM) with the application's cookie keys. */
export interface Sealer {
  seal(purpose: SealPurpose, value: object): Promise<string>;
  /** The value, or undefined when it is not a valid, untampered value sealed by one of our keys for this purpose. */
  open(purpose: SealPurpose, sealed: string): Promise<Record<string, unknown> | undefined>;
}

/** Creates the sealer: the first cookie key encrypts, every configured key decrypts (rotation overlap). */
export function createSealer(keys: ApplicationKeys['cookie']): Sealer {
  const byKid = new Map(keys.map((k) => [k.kid, Buffer.from(k.secret, 'base64url')] as const));
  const current = keys[0];
  if (!current) throw new Error('no cookie key');
  const currentKey = byKid.get(current.kid) as Buffer;
  return {
    seal(purpose, value) {
      return new CompactEncrypt(encoder.encode(JSON.stringify(value)))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: current.kid, typ: TYP[purpose] })
        .encrypt(currentKey);
    },
    async open(purpose, sealed) {
      if (sealed.length > 16_384) return undefined;
      try {
        const { plaintext, protectedHeader } = await compactDecrypt(
          sealed,
          (header) => {
            const key = header.kid === undefined ? undefined : byKid.get(header.kid);
            if (!key) throw new Error('unknown key');
            return key;
          },
          { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] },
        );
        if (protectedHeader.typ !== TYP[purpose]) return undefined;
        const value: unknown = JSON.parse(decoder.decode(plaintext));
        return value && typeof value === 'object' && !Array.isArray(value)
          ? (value as Record<string, unknown>)
          : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
