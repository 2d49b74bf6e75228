/**
 * ID token claims that describe the token rather than the user: a session keeps none of them for
 * claim selectors, so a `claim` selector that names one is refused at load (it would never match).
 * `acr` and `amr` are not among them: how the user authenticated (a second factor, a hardware key)
 * is a fact of the sign-in that policies may require.
 */
export const TOKEN_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'at_hash',
  'c_hash',
  's_hash',
  'auth_time',
  'azp',
  'sid',
  // Where claims left out of the token are (OpenID Connect Core 5.6.2), and Entra's sign of it.
  '_claim_names',
  '_claim_sources',
  'hasgroups',
]);
