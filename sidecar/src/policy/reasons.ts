/** Why a selector passed or failed; one code per outcome of each selector. */
export type SelectorReason =
  | 'everyone'
  | 'authenticated'
  | 'not_authenticated'
  | 'email_listed'
  | 'email_not_listed'
  | 'email_domain_listed'
  | 'email_domain_not_listed'
  | 'group_listed'
  | 'group_not_listed'
  | 'claim_matched'
  | 'claim_not_matched'
  | 'signed_in_within'
  | 'signed_in_before'
  | 'acr_listed'
  | 'acr_not_listed'
  | 'idp_listed'
  | 'idp_not_listed'
  | 'ip_in_range'
  | 'ip_not_in_range'
  | 'private_endpoint_listed'
  | 'private_endpoint_not_listed'
  | 'service_token_listed'
  | 'service_token_not_listed'
  | 'service_token_valid'
  | 'not_service_token'
  | 'service_account_listed'
  | 'service_account_not_listed'
  | 'path_matched'
  | 'path_not_matched'
  | 'method_listed'
  | 'method_not_listed';

/**
 * Why a request got its decision: the reason of the selector that decided it, or one of the
 * engine's own codes when no policy decided (deny by default) or a sign-in is needed first.
 */
export type DecisionReason =
  | SelectorReason
  | 'no_policies'
  | 'no_policy_matched'
  | 'login_required'
  | 'fresh_sign_in_required';
