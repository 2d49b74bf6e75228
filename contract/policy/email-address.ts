/** An email address split at its one `@`, lower-cased. */
export interface EmailAddress {
  readonly address: string;
  readonly local: string;
  readonly domain: string;
}

const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses an email address for policy matching: exactly one `@`, an unquoted local part and a DNS
 * domain. Everything is lower-cased (providers treat addresses case-insensitively in practice).
 * Quoted local parts, comments, whitespace and a second `@` are refused (undefined): an address
 * that two parsers could read differently never matches anything.
 */
export function parseEmail(text: string): EmailAddress | undefined {
  if (text === lastText) return lastParsed;
  lastParsed = parseUncached(text);
  lastText = text;
  return lastParsed;
}

// Several selectors parse the same caller's address in one evaluation; remember the last one.
let lastText: string | undefined;
let lastParsed: EmailAddress | undefined;

function parseUncached(text: string): EmailAddress | undefined {
  const at = text.indexOf('@');
  if (at <= 0 || at !== text.lastIndexOf('@')) return undefined;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!LOCAL.test(local) || !DOMAIN.test(domain)) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  const lowered = text.toLowerCase();
  return { address: lowered, local: local.toLowerCase(), domain: domain.toLowerCase() };
}
