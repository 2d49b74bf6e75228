import { setSelector } from '../set-selector.ts';

/** Matches when the request method is listed (methods are case-sensitive and upper-case). */
export const methods = setSelector({
  kind: 'methods',
  pass: 'method_listed',
  fail: 'method_not_listed',
  keysFor: (input) => [input.method],
});
