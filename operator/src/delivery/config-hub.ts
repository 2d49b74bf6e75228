import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import type { SidecarConfig } from '../../../contract/config/sidecar-config.ts';
import { streamLine } from '../../../contract/config-stream.ts';
import { importSigningKeys } from '../../../contract/keys.ts';

/** What a sidecar receives: its application's rendered config, serialised once for every subscriber. */
export interface PublishedConfig {
  readonly generation: string;
  /** One NDJSON line: {"type":"config","config":{...}}\n */
  readonly line: string;
  /** The application's public signing keys as a JWKS document. */
  readonly jwks: string;
  /** Names of the AccessRevocations in this config. */
  readonly revocations: ReadonlySet<string>;
}

type Subscriber = (published: PublishedConfig) => void;

/**
 * The rendered config of every application, by namespace/name, and the sidecar streams waiting
 * for it. A publish with an unchanged generation reaches no one.
 */
export class ConfigHub {
  readonly #configs = new Map<string, PublishedConfig>();
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #connected = 0;

  /** Stores a rendered config and the JWKS of its keys; returns true when the config differs from the one served so far. */
  publish(key: string, config: SidecarConfig, jwks: string): boolean {
    const previous = this.#configs.get(key);
    if (previous?.generation === config.generation && previous.jwks === jwks) return false;
    const published: PublishedConfig = {
      generation: config.generation,
      line: streamLine({ type: 'config', config }),
      jwks,
      revocations: new Set(config.revocations.map((r) => r.name)),
    };
    if (previous?.generation === config.generation) {
      this.#configs.set(key, published); // only the published keys changed: sidecars need nothing new
      return false;
    }
    this.#configs.set(key, published);
    for (const subscriber of this.#subscribers.get(key) ?? []) subscriber(published);
    return true;
  }

  /** Forgets an application (deleted); open streams keep their last config until they close. */
  remove(key: string): void {
    this.#configs.delete(key);
  }

  get(key: string): PublishedConfig | undefined {
    return this.#configs.get(key);
  }

  /** Calls back with the current config (if any) and every later one; returns the unsubscribe function. */
  subscribe(key: string, subscriber: Subscriber): () => void {
    let set = this.#subscribers.get(key);
    if (!set) {
      set = new Set();
      this.#subscribers.set(key, set);
    }
    set.add(subscriber);
    this.#connected++;
    const current = this.#configs.get(key);
    if (current) subscriber(current);
    return () => {
      if (set.delete(subscriber)) this.#connected--;
      if (set.size === 0) this.#subscribers.delete(key);
    };
  }

  /** Sidecar streams open now. */
  get connected(): number {
    return this.#connected;
  }

  /** Applications with a config to serve. */
  get size(): number {
    return this.#configs.size;
  }
}

/** The public JWKS document of an application's signing keys; empty when they are unreadable. */
export function publicJwks(keys: unknown): string {
  const signing = (keys as Partial<ApplicationKeys> | undefined)?.signing;
  if (!Array.isArray(signing)) return '{"keys":[]}';
  try {
    return JSON.stringify({ keys: importSigningKeys(signing).map((k) => k.publicJwk) });
  } catch {
    return '{"keys":[]}';
  }
}
