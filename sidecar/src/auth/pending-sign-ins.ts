import { randomInt } from 'node:crypto';
import { readCookies } from './cookies.ts';
import type { Sealer } from './sealed.ts';
import { HEAD_RESERVE_BYTES } from './session-jar.ts';

/**
 * The slots of login cookies: a login cookie is named `<cookieName>_tx_<slot>`, one of 16 names
 * known in advance, and the first character of its sign-in's state is its slot. Sign-ins started
 * in several tabs at the same moment do not see each other's cookies, so no budget can keep their
 * sum under the head limit; with names known in advance, a response to a head too large ends
 * every one of them by name (loginCookieSlots), and the browser can sign in again at once instead
 * of being refused until the cookies expire.
 */
const SLOTS = '0123456789abcdef';

/** The names of every login cookie slot. */
export function loginCookieSlots(prefix: string): string[] {
  return [...SLOTS].map((slot) => prefix + slot);
}

/** The name of the login cookie of a sign-in's state; undefined when the state names no slot. */
export function loginCookieOfState(prefix: string, state: string): string | undefined {
  const slot = state.charAt(0);
  return slot !== '' && SLOTS.includes(slot) ? prefix + slot : undefined;
}

/** A new sign-in's state in a slot: the slot's character, then the state drawn for it. */
export function stateInSlot(slotName: string, state: string): string {
  return slotName.slice(-1) + state;
}

/**
 * The slot for a new sign-in: one no live sign-in of this browser holds, drawn at random (tabs
 * that start at the same moment then rarely take the same one); when all are held, the oldest's.
 */
export function freeLoginSlot(pending: readonly PendingSignIn[], prefix: string): string {
  const held = new Set(pending.filter((p) => p.startedAt !== undefined).map((p) => p.name));
  const free = loginCookieSlots(prefix).filter((name) => !held.has(name));
  if (free.length > 0) return free[randomInt(free.length)] as string;
  return (oldestFirst(pending)[0] as PendingSignIn).name;
}

/** Live sign-ins, oldest first; within a second, the earlier in the header. */
function oldestFirst(pending: readonly PendingSignIn[]): PendingSignIn[] {
  return pending
    .map((p, at) => ({ p, at }))
    .filter(({ p }) => p.startedAt !== undefined)
    .sort((a, b) => (a.p.startedAt as number) - (b.p.startedAt as number) || a.at - b.at)
    .map(({ p }) => p);
}

/** A sign-in in progress as the browser sent its cookie back. */
export interface PendingSignIn {
  readonly name: string;
  /** Bytes it takes in the Cookie header: name, `=`, value and the `; ` separator. */
  readonly bytes: number;
  /** When it started (epoch seconds); undefined when it does not open, is foreign or has expired. */
  readonly startedAt: number | undefined;
}

/** Bytes a cookie takes in a Cookie header beside others. */
export function cookieBytes(name: string, value: string): number {
  return name.length + 1 + value.length + 2;
}

/**
 * Bytes the login cookies of one browser may take together: half the request head the sidecar
 * reads (`--max-header-size`), 8 KiB with the default 16 KiB. The other half holds the request
 * line (the login route's carries a return path of up to 2,048 characters, escaped), the other
 * headers and the application's cookies; a session set meanwhile by a sign-in in another tab
 * makes the callback end more of them (loginCookieRoom). Every pending login cookie comes back
 * with each callback: with no bound, a browser that started a dozen sign-ins at once (tabs
 * restored after a night, each at the provider's login form) sent more than the head limit, and
 * every callback and every new sign-in was refused (431) until the cookies expired ten minutes
 * later.
 */
export function loginCookieBudgetFor(maxHeaderBytes: number): number {
  return Math.floor(maxHeaderBytes / 2);
}

/**
 * Bytes left for the login cookies of sign-ins still in progress once a sign-in sets a session of
 * `sessionBytes`: the budget, less what the session leaves of the head beside the reserve. A
 * session of three cookies (a user in a hundred groups) leaves about 1 KiB.
 */
export function loginCookieRoom(maxHeaderBytes: number, sessionBytes: number): number {
  return Math.max(
    0,
    Math.min(loginCookieBudgetFor(maxHeaderBytes), maxHeaderBytes - HEAD_RESERVE_BYTES - sessionBytes),
  );
}

/** Bytes the cookies that Set-Cookie lines set (not those they delete) take in a Cookie header. */
export function setCookieBytes(lines: readonly string[]): number {
  let bytes = 0;
  for (const line of lines) {
    const semi = line.indexOf(';');
    const pair = semi === -1 ? line : line.slice(0, semi);
    if (!/;\s*Max-Age=0(;|$)/i.test(line)) bytes += pair.length + 2;
  }
  return bytes;
}

/**
 * The login cookies of sign-ins in progress that came with a request (but `except`, one already
 * read), opened to learn when each started: at most one per slot.
 */
export async function pendingSignIns(
  header: string | readonly string[] | undefined,
  prefix: string,
  sealer: Sealer,
  ttlSeconds: number,
  now: number,
  except?: string,
): Promise<PendingSignIn[]> {
  const slots = new Set(loginCookieSlots(prefix));
  const found = [...readCookies(header, prefix)].filter(([name]) => name !== except && slots.has(name));
  return Promise.all(
    found.map(async ([name, value]) => {
      const opened = await sealer.open('login', value);
      const t = opened?.t;
      const s = opened?.s;
      const own = typeof s === 'string' && name === loginCookieOfState(prefix, s);
      const fresh = typeof t === 'number' && now - t <= ttlSeconds && t <= now + 60;
      return { name, bytes: cookieBytes(name, value), startedAt: own && fresh ? t : undefined };
    }),
  );
}

/**
 * The sign-ins to end so that a new one of `newBytes` fits the budget: every one that does not
 * open or has expired, and every one older than the newest that fit beside the new one. The
 * newest are kept because a browser shows them last: the tab a user signs in from is most
 * likely among them, and a tab whose sign-in was ended offers "Try again".
 */
export function signInsToEnd(pending: readonly PendingSignIn[], newBytes: number, budget: number): string[] {
  // Newest first; within a second, the later in the header: browsers send the cookies of one
  // path oldest first (RFC 6265, 5.4).
  const live = oldestFirst(pending).reverse();
  const end = pending.filter((p) => p.startedAt === undefined).map((p) => p.name);
  let used = newBytes;
  let full = false;
  for (const p of live) {
    full ||= used + p.bytes > budget;
    if (full) end.push(p.name);
    else used += p.bytes;
  }
  return end;
}
