import type { SelectorKind } from '../../../../contract/api/access-policy.ts';
import type { SelectorDefinition } from '../selector.ts';
import { acrValues } from './acr-values.ts';
import { anyServiceToken } from './any-service-token.ts';
import { authenticated } from './authenticated.ts';
import { claim } from './claim.ts';
import { emailDomains } from './email-domains.ts';
import { emails } from './emails.ts';
import { everyone } from './everyone.ts';
import { groups } from './groups.ts';
import { identityProviders } from './identity-providers.ts';
import { ipRanges } from './ip-ranges.ts';
import { methods } from './methods.ts';
import { paths } from './paths.ts';
import { privateEndpoints } from './private-endpoints.ts';
import { serviceAccounts } from './service-accounts.ts';
import { serviceTokens } from './service-tokens.ts';
import { signedInWithin } from './signed-in-within.ts';

/** Every selector kind, registered in one place; the mapped type makes a missing kind a type error. */
export const SELECTORS: { readonly [K in SelectorKind]: SelectorDefinition<K> } = {
  everyone,
  authenticated,
  emails,
  emailDomains,
  groups,
  claim,
  signedInWithin,
  acrValues,
  identityProviders,
  ipRanges,
  privateEndpoints,
  serviceTokens,
  anyServiceToken,
  serviceAccounts,
  paths,
  methods,
};
