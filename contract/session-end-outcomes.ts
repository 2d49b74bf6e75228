/**
 * Why a sidecar stopped carrying a session end to the other sidecars without it getting through:
 * the `reason` of `session_end_unreported` and of `gatehouse_session_ends_unreported_total`. A
 * module of its own, so that the sidecar's metrics name them without loading the log schemas.
 */
export const SESSION_END_GIVEN_UP = [
  'refused',
  'account_full',
  'sessions_expired',
  'too_many_delayed',
  'shutting_down',
] as const;
