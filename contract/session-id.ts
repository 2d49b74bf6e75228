/**
 * A Gatehouse session id as an AccessRevocation's `session` takes it (`sessionId` in the log
 * lines). A module of its own, without the schema library: the audit checks ids with it and
 * loads nothing else of the contract's schemas.
 */
export const SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/;
