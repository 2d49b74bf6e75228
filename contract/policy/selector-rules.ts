import { parseDurationMs } from '../../lib/duration.ts';
import { cidrProblem } from '../../lib/net/cidr.ts';
import type { Selector, SelectorKind } from '../api/access-policy.ts';
import { listItemErrors } from '../api/validate.ts';
import type { FieldError } from '../errors.ts';
import { parseEmail } from './email-address.ts';
import { pathGlobProblem } from './path-glob.ts';
import { TOKEN_CLAIMS } from './token-claims.ts';

/** The value of one selector kind, as written in an AccessPolicy. */
export type SelectorValue<K extends SelectorKind> = NonNullable<Selector[K]>;

/**
 * What the operator and the sidecar agree on about one selector kind, before any request is
 * seen: what it reads, which callers it can ever match, the facts of its value the schema
 * cannot check, and the one stored form of its value. How a value is matched against a request
 * is the sidecar's business (sidecar/src/policy/selectors/).
 */
export interface SelectorRule<K extends SelectorKind> {
  /** `identity` selectors cannot be decided before the caller has authenticated. */
  readonly reads: 'request' | 'identity';
  /** `user`: only ever matches a signed-in user; `machine`: only a service token or ServiceAccount. */
  readonly callers: 'any' | 'user' | 'machine';
  /** Facts the schema cannot check (CIDR syntax, glob shape); each error is located under `at`. */
  check?(value: SelectorValue<K>, at: string): FieldError[];
  /** The one stored form of a value (e.g. lower-case emails), so equal policies hash equally. */
  normalise?(value: SelectorValue<K>): SelectorValue<K>;
}

/** A list without duplicates, each item in its stored form. */
const uniqueItems =
  (normaliseItem: (item: string) => string = (item) => item) =>
  (value: string[]): string[] => [...new Set(value.map(normaliseItem))];

const lowerCase = (item: string): string => item.toLowerCase();

/** The largest LinkID (Azure: 32 bits) and connection id (GCP: 64 bits) a header can carry. */
const ENDPOINT_ID_MAX: Readonly<Record<string, bigint>> = {
  azure: 0xffff_ffffn,
  gcp: 0xffff_ffff_ffff_ffffn,
};

/** A number no PROXY header can carry would never match: refused rather than kept for ever. */
function privateEndpointProblem(endpoint: string): string | undefined {
  const colon = endpoint.indexOf(':');
  const max = ENDPOINT_ID_MAX[endpoint.slice(0, colon)];
  const id = endpoint.slice(colon + 1);
  // The schema has checked the digits; a value that did not pass it is not this check's to refuse.
  if (max === undefined || !/^[0-9]{1,40}$/.test(id) || BigInt(id) <= max) return undefined;
  return `is over the largest ${endpoint.slice(0, colon) === 'azure' ? 'LinkID (4294967295)' : 'connection id (18446744073709551615)'}`;
}

/** The shortest and longest `signedInWithin`: a minute, thirty days. */
const SIGN_IN_WINDOW_SECONDS = { min: 60, max: 720 * 3600 } as const;

/**
 * A `signedInWithin` value in whole seconds (what a sign-in's `max_age` carries); undefined when
 * it is not a duration between 1m and 720h.
 */
export function signInWindowSeconds(value: string): number | undefined {
  const ms = parseDurationMs(value);
  if (ms === undefined) return undefined;
  const seconds = Math.floor(ms / 1000);
  return seconds >= SIGN_IN_WINDOW_SECONDS.min && seconds <= SIGN_IN_WINDOW_SECONDS.max ? seconds : undefined;
}

/** Every selector kind's rule; the mapped type makes a missing kind a type error. */
export const SELECTOR_RULES: { readonly [K in SelectorKind]: SelectorRule<K> } = {
  everyone: { reads: 'request', callers: 'any' },
  authenticated: { reads: 'identity', callers: 'any' },
  emails: {
    reads: 'identity',
    callers: 'user',
    check: (value, at) =>
      listItemErrors(value, at, (address) =>
        parseEmail(address) ? undefined : 'is not a plain email address with exactly one @',
      ),
    normalise: uniqueItems(lowerCase),
  },
  emailDomains: { reads: 'identity', callers: 'user', normalise: uniqueItems(lowerCase) },
  // Groups may also come with a ServiceAccount, so they are not user-only.
  groups: { reads: 'identity', callers: 'any', normalise: uniqueItems() },
  claim: {
    reads: 'identity',
    callers: 'user',
    check(value, at) {
      if ((value.equals === undefined) === (value.contains === undefined))
        return [{ path: at, message: 'needs exactly one of equals or contains' }];
      if (TOKEN_CLAIMS.has(value.name))
        return [
          {
            path: `${at}.name`,
            message: `${value.name} describes the ID token, not the user: a session keeps no such claim, so this selector would never match`,
          },
        ];
      return [];
    },
  },
  signedInWithin: {
    reads: 'identity',
    callers: 'user',
    check(value, at) {
      const seconds = signInWindowSeconds(value);
      return seconds === undefined
        ? [{ path: at, message: `is not a duration between 1m and 720h (got ${JSON.stringify(value)})` }]
        : [];
    },
  },
  acrValues: { reads: 'identity', callers: 'user', normalise: uniqueItems() },
  identityProviders: { reads: 'identity', callers: 'user', normalise: uniqueItems() },
  ipRanges: {
    reads: 'request',
    callers: 'any',
    check: (value, at) => listItemErrors(value, at, cidrProblem),
    normalise: uniqueItems(),
  },
  privateEndpoints: {
    reads: 'request',
    callers: 'any',
    check: (value, at) => listItemErrors(value, at, privateEndpointProblem),
    normalise: uniqueItems(),
  },
  serviceTokens: { reads: 'identity', callers: 'machine', normalise: uniqueItems() },
  anyServiceToken: { reads: 'identity', callers: 'machine' },
  serviceAccounts: {
    reads: 'identity',
    callers: 'machine',
    normalise(value) {
      const seen = new Map<string, SelectorValue<'serviceAccounts'>[number]>();
      for (const a of value) seen.set(`${a.namespace}/${a.name}`, { namespace: a.namespace, name: a.name });
      return [...seen.values()];
    },
  },
  paths: {
    reads: 'request',
    callers: 'any',
    check: (value, at) => listItemErrors(value, at, pathGlobProblem),
    normalise: uniqueItems(),
  },
  methods: { reads: 'request', callers: 'any', normalise: uniqueItems() },
};
