import type { SelectorDefinition } from '../selector.ts';

/** Matches a machine caller authenticated with any valid service token of the application. */
export const anyServiceToken: SelectorDefinition<'anyServiceToken'> = {
  kind: 'anyServiceToken',
  pass: 'service_token_valid',
  fail: 'not_service_token',
  compile: () => (input) => input.identity?.kind === 'service-token',
};
