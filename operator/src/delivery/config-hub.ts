import type { ApplicationKeys } from '../../../contract/config/auth-config.ts';
import { withRevocations } from '../../../contract/config/render.ts';
import {
  configSecrets,
  type Revocation,
  type SidecarConfig,
} from '../../../contract/config/sidecar-config.ts';
import { APPLICATION_NOT_FOUND, revocationChanges, streamLine } from '../../../contract/config-stream.ts';
import { importSigningKeys } from '../../../contract/keys.ts';
import { splitKey } from '../../../lib/kube/kube-object.ts';

/** What a sidecar receives: its application's rendered config, serialised once for every subscriber. */
export interface PublishedConfig {
  readonly generation: string;
  /** One NDJSON line: {"type":"config","config":{...}}\n */
  readonly line: string;
  readonly config: SidecarConfig;
  /** The application's public signing keys as a JWKS document. */
  readonly jwks: string;
}

/**
 * The revocations of an application that cannot be rendered anew, sent on their own so that
 * they never wait for a fix: sidecars apply them to the config they run.
 */
interface PublishedRevocations {
  readonly line: string;
  readonly names: ReadonlySet<string>;
  readonly revocations: readonly Revocation[];
}

type Subscriber = (line: string) => void;

/** What a subscriber reads beyond config, revocations and heartbeats. */
export interface SubscriberReads {
  /** `revocations-changed` messages instead of whole `revocations` ones. */
  readonly revocationChanges?: boolean;
}

interface Application {
  config?: PublishedConfig;
  /** Newer than the config's revocations, when set. */
  revocations?: PublishedRevocations;
  /** Why there is no config to send (a `waiting` line), until the first one. */
  waiting?: string;
}

/**
 * The rendered config of every application, by namespace/name, and the sidecar streams waiting
 * for it. A publish with an unchanged generation reaches no one. An application that cannot be
 * rendered keeps its last config, and its revocations are published on their own.
 */
export class ConfigHub {
  readonly #applications = new Map<string, Application>();
  /** Each application's subscribers, and whether each reads `revocations-changed` messages. */
  readonly #subscribers = new Map<string, Map<Subscriber, boolean>>();
  #connected = 0;

  #entry(key: string): Application {
    let entry = this.#applications.get(key);
    if (!entry) {
      entry = {};
      this.#applications.set(key, entry);
    }
    return entry;
  }

  #send(key: string, line: string): void {
    for (const subscriber of this.#subscribers.get(key)?.keys() ?? []) subscriber(line);
  }

  /** Stores a rendered config and the JWKS of its keys; returns true when the config differs from the one served so far. */
  publish(key: string, config: SidecarConfig, jwks: string): boolean {
    const entry = this.#entry(key);
    const previous = entry.config;
    if (previous?.generation === config.generation && previous.jwks === jwks && !entry.revocations)
      return false;
    const published: PublishedConfig = {
      generation: config.generation,
      line: streamLine({ type: 'config', config }),
      config,
      jwks,
    };
    entry.config = published;
    entry.waiting = undefined;
    const overridden = entry.revocations;
    entry.revocations = undefined;
    // Only the published keys changed: sidecars need nothing new.
    if (previous?.generation === config.generation && !overridden) return false;
    // The render that follows revocations sent on their own: sidecars already run this config
    // (theirs with those revocations applied has its generation). Sending it again doubled what
    // every sign-out sent every sidecar (1.3 MB more each, with 8,000 revocations in force).
    if (
      overridden &&
      previous &&
      withRevocations(previous.config, overridden.revocations).generation === config.generation
    )
      return false;
    this.#send(key, published.line);
    return true;
  }

  /**
   * Publishes an application's current revocations on their own (at once, before its render; or
   * because it cannot be rendered now): a `revocations-changed` message to subscribers that read
   * it (and have a config), a whole `revocations` one to the others. Returns true when sidecars
   * were sent something new.
   */
  publishRevocations(key: string, revocations: readonly Revocation[]): boolean {
    const entry = this.#entry(key);
    const names = new Set(revocations.map((r) => r.name));
    const sorted = [...revocations].sort(byName);
    const line = streamLine({ type: 'revocations', revocations: sorted });
    if (entry.revocations?.line === line) return false;
    if (!entry.revocations && entry.config && sameRevocations(entry.config.config.revocations, revocations))
      return false;
    // What every subscriber was sent last: the config's revocations, or those sent on their own since.
    const sent = entry.revocations?.revocations ?? entry.config?.config.revocations ?? [];
    entry.revocations = { line, names, revocations: sorted };
    let changesLine: string | undefined;
    for (const [subscriber, readsChanges] of this.#subscribers.get(key) ?? []) {
      if (!readsChanges || !entry.config) {
        subscriber(line);
        continue;
      }
      changesLine ??= streamLine({
        type: 'revocations-changed',
        ...revocationChanges(sent, sorted),
        generation: withRevocations(entry.config.config, sorted).generation,
      });
      subscriber(changesLine);
    }
    return true;
  }

  /**
   * Forgets a deleted application. Its sidecars keep the config they run; they are told the
   * application is gone (`waiting`, ApplicationNotFound).
   */
  remove(key: string): void {
    if (this.#applications.delete(key)) this.#send(key, notFoundLine(key));
  }

  /** Whether the application has a config or a reason for having none: a new stream is sent one of them. */
  knows(key: string): boolean {
    const entry = this.#applications.get(key);
    return entry?.config !== undefined || entry?.waiting !== undefined;
  }

  /**
   * Why the application has no config to serve (the reason and message of its Ready condition):
   * its sidecars are told when it changes, and those that connect before its first config. A
   * published config makes it moot.
   */
  wait(key: string, reason: string, message: string): void {
    const entry = this.#entry(key);
    if (entry.config) return;
    const line = streamLine({ type: 'waiting', reason, message });
    if (entry.waiting === line) return;
    entry.waiting = line;
    this.#send(key, line);
  }

  get(key: string): PublishedConfig | undefined {
    return this.#applications.get(key)?.config;
  }

  /** Names of the AccessRevocations its sidecars are sent now; undefined when it has nothing published. */
  servedRevocations(key: string): ReadonlySet<string> | undefined {
    const entry = this.#applications.get(key);
    if (entry?.revocations) return entry.revocations.names;
    return entry?.config ? new Set(entry.config.config.revocations.map((r) => r.name)) : undefined;
  }

  /** Every secret of the configs published (client secrets, cookie and signing keys): what a log line must not carry. */
  secrets(): string[] {
    const secrets: string[] = [];
    for (const entry of this.#applications.values())
      if (entry.config) for (const secret of configSecrets(entry.config.config)) secrets.push(secret);
    return secrets;
  }

  /** Applications with something published. */
  keys(): IterableIterator<string> {
    return this.#applications.keys();
  }

  /** Calls back with the current lines (config, then revocations if newer) and every later one; returns the unsubscribe function. */
  subscribe(key: string, subscriber: Subscriber, reads: SubscriberReads = {}): () => void {
    const set = this.#subscribers.get(key) ?? new Map<Subscriber, boolean>();
    this.#subscribers.set(key, set);
    set.set(subscriber, reads.revocationChanges === true);
    this.#connected++;
    const current = this.#applications.get(key);
    if (current?.config) subscriber(current.config.line);
    else if (current?.waiting) subscriber(current.waiting);
    if (current?.revocations) subscriber(current.revocations.line);
    return () => {
      if (set.delete(subscriber)) this.#connected--;
      // Only this set: a later subscriber may have started a new one for the key.
      if (set.size === 0 && this.#subscribers.get(key) === set) this.#subscribers.delete(key);
    };
  }

  /** Sidecar streams open now. */
  get connected(): number {
    return this.#connected;
  }

  /** Applications with a config to serve. */
  get size(): number {
    let n = 0;
    for (const entry of this.#applications.values()) if (entry.config) n++;
    return n;
  }
}

/** The `waiting` line for a sidecar whose application the operator does not have. */
export function notFoundLine(key: string): string {
  const { namespace, name } = splitKey(key);
  return streamLine({
    type: 'waiting',
    reason: APPLICATION_NOT_FOUND,
    message: notFoundMessage(namespace, name),
  });
}

/** What a sidecar of an application the operator does not know is told. */
function notFoundMessage(namespace: string, name: string): string {
  return `no AccessApplication ${name} in namespace ${namespace}: create it (kubectl apply), or correct the pod's gatehouse.dev/application label; the sidecar becomes ready with its first config`;
}

const byName = (a: Revocation, b: Revocation): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function sameRevocations(a: readonly Revocation[], b: readonly Revocation[]): boolean {
  return JSON.stringify([...a].sort(byName)) === JSON.stringify([...b].sort(byName));
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
