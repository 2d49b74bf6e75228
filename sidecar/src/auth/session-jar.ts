import type { RenderedAuth } from '../../../contract/config/auth-config.ts';
import { boundedCache } from '../../../lib/bounded-cache.ts';
import { singleFlight } from '../../../lib/single-flight.ts';
import { cookieName, readCookies, serializeCookie } from './cookies.ts';
import type { Sealer } from './sealed.ts';
import { asSession, type Session } from './session.ts';

/** Largest cookie value written; browsers keep at least 4096 bytes per cookie, name and attributes included. */
export const COOKIE_CHUNK_SIZE = 3_800;
/** Chunks of a session read and written at most. */
const MAX_CHUNKS = 5;
/** What a request head needs besides the session cookies: request line, other headers, the application's own cookies. */
export const HEAD_RESERVE_BYTES = 4_096;
/** The sidecar's request head limit unless `--max-header-size` says otherwise. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/**
 * Chunks a new session may take: what fits in the request head the sidecar reads
 * (`--max-header-size`) beside the rest of a request, 3 (11,400 bytes) with the default 16 KiB.
 * The browser sends every chunk back in the Cookie header of every request: a session larger than
 * that got each later request refused (431), sign-out included, until the user cleared the
 * cookies by hand.
 */
export function signInChunksFor(maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES): number {
  const fit = Math.floor((maxHeaderBytes - HEAD_RESERVE_BYTES) / COOKIE_CHUNK_SIZE);
  return Math.max(1, Math.min(MAX_CHUNKS, fit));
}

const CACHE_LIMIT = 10_000;
/** Signed-out sessions remembered at most (about 100 bytes each). */
const ENDED_LIMIT = 1_000_000;

/** A session that cannot be stored in the cookies it may take, even without its ID token. */
export class SessionTooLarge extends Error {
  readonly bytes: number;
  constructor(bytes: number, chunks: number) {
    super(`session too large (${bytes} bytes sealed; at most ${chunks * COOKIE_CHUNK_SIZE})`);
    this.name = 'SessionTooLarge';
    this.bytes = bytes;
  }
}

/** The session cookies of one request: the joined sealed value and the names present (to clear them). */
export interface PresentCookies {
  readonly sealed: string | undefined;
  readonly names: readonly string[];
}

/** Reads and writes sessions in (possibly split) cookies; opened sessions are cached by cookie value. */
export interface SessionJar {
  readonly name: string;
  /** Finds the session cookie(s) of a request. */
  cookies(header: string | readonly string[] | undefined): PresentCookies;
  /** The session sealed in the cookies; synchronous on a cache hit. Undefined when absent, invalid or ended here. */
  open(sealed: string): Session | undefined | Promise<Session | undefined>;
  /**
   * After open() gave nothing: the session of these cookies when this process ended it (a replay
   * of a signed-out cookie, to tie the refused request to it); undefined otherwise. Synchronous:
   * open() has just cached every session it could unseal.
   */
  endedSession(sealed: string): Session | undefined;
  /** Chunks a session stored at sign-in may take (signInChunksFor the sidecar's request head limit). */
  readonly signInChunks: number;
  /**
   * Set-Cookie values storing the session (splitting it when large) and deleting stale chunks. A
   * session over `signInChunks` is stored without its ID token (kept only as the hint of a
   * sign-out at the provider); over `maxChunks` (a sign-in gives `signInChunks`) it throws
   * SessionTooLarge.
   */
  store(session: Session, present: readonly string[], maxChunks?: number): Promise<string[]>;
  /** Set-Cookie values deleting the given session cookies. */
  clear(present: readonly string[]): string[];
  /** Refuses this session id from now on in this process (logout), until it would have expired anyway. */
  end(session: Session): void;
  /**
   * Last activity known for the session: the cookie's own, or a later renewal this process wrote
   * (clients that send an older cookie copy, or parallel requests, do not renew it again).
   */
  lastSeen(session: Session): number;
  /**
   * A session of this provider session (`psid`) that this process opened or stored and that is
   * neither expired nor ended here; taken out, so a second call for it finds none. What a
   * front-channel logout, which only names a provider session, may end: a session this sidecar
   * has seen.
   */
  takeProviderSession(provider: string, psid: string, now: number): Session | undefined;
  /**
   * Sessions of this application this sidecar holds open now (not ended, not expired, active
   * within the idle timeout); for the session gauge, read at scrape time.
   */
  activeCount(now: number): number;
}

/**
 * Creates the session jar for an application's session settings and cookie keys; its cookies
 * have `path` (the application's base path on a shared host).
 */
export function createSessionJar(
  settings: RenderedAuth['session'],
  sealer: Sealer,
  endedLimit = ENDED_LIMIT,
  signInChunks = signInChunksFor(),
  path = '/',
): SessionJar {
  const name = cookieName(settings.cookieName, settings.secure, path);
  const chunkName = (i: number) => (i === 0 ? name : `${name}_${i}`);
  const cache = boundedCache<string, Session>(CACHE_LIMIT);
  // Signed-out sessions, each kept until it would have expired anyway. Bounded for memory; a
  // cookie somebody keeps replaying stays the most recently used, so it is the last to go.
  const ended = boundedCache<string, true>(endedLimit);
  const secure = settings.secure;

  const seen = boundedCache<string, number>(CACHE_LIMIT);
  // The sessions cached above by their provider session, for a front-channel logout.
  const byProviderSession = boundedCache<string, Session>(CACHE_LIMIT);
  const providerSessionKey = (provider: string, psid: string) => `${provider}\u0000${psid}`;
  const remember = (sealed: string, session: Session) => {
    cache.set(sealed, session);
    if (session.psid !== undefined)
      byProviderSession.set(providerSessionKey(session.idp, session.psid), session);
  };
  /** Cookies being unsealed now, each once. */
  const unsealing = singleFlight<string, Session | undefined>();
  const isEnded = (session: Session) => ended.get(session.sid) === true;

  return {
    name,
    signInChunks,
    cookies(header) {
      const found = readCookies(header, name);
      for (const key of found.keys())
        if (key !== name && !/^_[0-9]$/.test(key.slice(name.length))) found.delete(key);
      const first = found.get(name);
      if (first === undefined) return { sealed: undefined, names: [...found.keys()] };
      const star = first.indexOf('*');
      if (star === -1 || star > 2) return { sealed: first, names: [...found.keys()] };
      const count = Number(first.slice(0, star));
      let sealed = first.slice(star + 1);
      for (let i = 1; i < count && i < MAX_CHUNKS; i++) {
        const part = found.get(chunkName(i));
        if (part === undefined) return { sealed: undefined, names: [...found.keys()] };
        sealed += part;
      }
      return { sealed, names: [...found.keys()] };
    },
    open(sealed) {
      const hit = cache.get(sealed);
      if (hit) return isEnded(hit) ? undefined : hit;
      // One unsealing per cookie at a time: requests that bring the same cookie while it is
      // being opened (a new pod's first burst, 200 tabs of one user) share it instead of each
      // queueing its own decryption on the thread pool.
      const pending = unsealing(sealed, () =>
        sealer.open('session', sealed).then((value) => {
          const session = value && asSession(value);
          if (!session) return undefined;
          remember(sealed, session);
          return session;
        }),
      );
      return pending.then((session) => (session && !isEnded(session) ? session : undefined));
    },
    endedSession(sealed) {
      const hit = cache.get(sealed);
      return hit && isEnded(hit) ? hit : undefined;
    },
    async store(full, present, maxChunks = MAX_CHUNKS) {
      seen.set(full.sid, Math.max(seen.get(full.sid) ?? 0, full.seen));
      const budget = Math.min(maxChunks, signInChunks) * COOKIE_CHUNK_SIZE;
      let session = full;
      let sealed = await sealer.seal('session', session);
      if (sealed.length > budget && session.idToken !== null) {
        session = { ...session, idToken: null };
        sealed = await sealer.seal('session', session);
      }
      if (sealed.length > maxChunks * COOKIE_CHUNK_SIZE) throw new SessionTooLarge(sealed.length, maxChunks);
      remember(sealed, session);
      const maxAge = session.exp - Math.floor(Date.now() / 1000);
      const parts: string[] = [];
      if (sealed.length <= COOKIE_CHUNK_SIZE) parts.push(sealed);
      else
        for (let i = 0; i < sealed.length; i += COOKIE_CHUNK_SIZE)
          parts.push(sealed.slice(i, i + COOKIE_CHUNK_SIZE));
      const out = parts.map((part, i) =>
        serializeCookie(chunkName(i), i === 0 && parts.length > 1 ? `${parts.length}*${part}` : part, {
          secure,
          path,
          maxAge,
        }),
      );
      const written = new Set(parts.map((_, i) => chunkName(i)));
      for (const stale of present)
        if (!written.has(stale)) out.push(serializeCookie(stale, '', { secure, path, maxAge: 0 }));
      return out;
    },
    clear(present) {
      return present.map((n) => serializeCookie(n, '', { secure, path, maxAge: 0 }));
    },
    end(session) {
      const ttl = session.exp * 1000 - Date.now();
      if (ttl > 0) ended.set(session.sid, true, { ttl });
    },
    takeProviderSession(provider, psid, now) {
      const key = providerSessionKey(provider, psid);
      const session = byProviderSession.get(key);
      if (session === undefined) return undefined;
      byProviderSession.delete(key);
      return isEnded(session) || session.exp <= now ? undefined : session;
    },
    lastSeen(session) {
      return Math.max(session.seen, seen.get(session.sid) ?? 0);
    },
    activeCount(now) {
      const idleSeconds = Math.floor(settings.idleMs / 1000);
      const active = new Set<string>();
      for (const session of cache.values()) {
        if (active.has(session.sid) || isEnded(session) || session.exp <= now) continue;
        if (now - Math.max(session.seen, seen.get(session.sid) ?? 0) < idleSeconds) active.add(session.sid);
      }
      return active.size;
    },
  };
}
