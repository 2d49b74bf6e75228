import { LRUCache } from 'lru-cache';

/** Bytes of return paths (and their states) a process remembers at once; the oldest go first. */
const REMEMBERED_BYTES = 1 << 20;
/** What an entry costs besides its strings' characters: its place in the cache. */
const ENTRY_OVERHEAD_BYTES = 100;

/**
 * The return paths of the sign-ins this process started, by state, for as long as a sign-in
 * lives. A callback whose login cookie a newer sign-in replaced (many tabs restored at once take
 * each other's room) still knows the page its tab was for, without a longer state (some providers
 * refuse states of more than 128 to 500 characters). A callback that reaches another replica, or
 * comes after this process restarted or after a megabyte of newer sign-ins, finds none and leads
 * to `/`.
 */
export class SignInReturns {
  readonly #byState: LRUCache<string, string>;

  constructor(ttlSeconds: number, bytes = REMEMBERED_BYTES) {
    this.#byState = new LRUCache<string, string>({
      maxSize: bytes,
      sizeCalculation: (path, state) => state.length + path.length + ENTRY_OVERHEAD_BYTES,
      ttl: ttlSeconds * 1000,
    });
  }

  /** Remembers where a sign-in leads (`/` needs no remembering). */
  remember(state: string, returnPath: string): void {
    if (returnPath !== '/') this.#byState.set(state, returnPath);
  }

  /** Where the sign-in of this state leads, or `home` when this process does not know it. */
  returnPath(state: string, home = '/'): string {
    return this.#byState.get(state) ?? home;
  }
}
