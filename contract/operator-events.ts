import Type, { type TObject } from 'typebox';
import { StringEnum } from './api/schema-helpers.ts';
import { event, type Fields, int, lineSchema, opt, str } from './event-schema.ts';
import { DefectFields, RevocationTarget } from './log-events.ts';
import { Nullable } from './log-line.ts';

/**
 * Every line the operator writes on stdout: `type` and `time`, then the fields of its schema
 * here. The writer (operator/src/operator-log.ts) is typed by these schemas (a field they do not
 * list is a compile error), the table in docs/operator.md is generated from them, and the tests
 * check every line their operators write against them. Never a token, key or Secret value.
 */

const ErrorText = str('What failed, as the error said (never a request or a credential).');
const Pod = str('The Pod (`*` after the generated name prefix when it has no name yet).');

export const OPERATOR_EVENTS = {
  operator_started: event('The operator listens.', {
    namespace: str('Its namespace (`--namespace`).'),
    deliveryPort: int('The delivery port: config streams, session ends and the injection webhook.'),
    adminPort: int('The admin port: `/metrics`, `/healthz`, `/readyz`.'),
    pid: int('Its process id.'),
  }),
  crd_mismatch: event(
    'An installed CRD is not the one of this operator\u2019s version (checked at start and every minute by every replica): the API server drops the fields its schema lacks from every object written, so a field of this version set in an AccessApplication or AccessPolicy is lost.',
    {
      crd: str('The CRD (`accessapplications.gatehouse.dev`).'),
      state: StringEnum(['other_version', 'missing', 'unreadable'], {
        description:
          '`other_version`: its schema digest is another version\u2019s (or it has none: CRDs from before the digest, or edited by hand); `missing`: not installed; `unreadable`: the operator may not read it.',
      }),
      installed: Nullable(
        Type.String(),
        'The installed CRD\u2019s `gatehouse.dev/schema-digest`; null when it has none.',
      ),
      expected: str('The digest of this version\u2019s CRD.'),
      error: opt(str('The API server\u2019s answer, for `unreadable`.')),
      hint: str('What to do.'),
    },
  ),
  crd_matched: event('An installed CRD that was not this version\u2019s is now.', {
    crd: str('The CRD.'),
    digest: str('Its schema digest.'),
  }),
  crd_check_failed: event(
    'The CRDs could not be read (the API server did not answer); checked again every minute, and said again only after a check that worked.',
    {
      error: ErrorText,
    },
  ),
  caches_synced: event('The first lists of the watched resources are in: reconciles begin.', {
    applications: int('AccessApplications seen.'),
    policies: int('AccessPolicies seen.'),
  }),
  leader_elected: event('This replica holds the lease: it writes status, Secrets and revocations.', {
    identity: str('This replica.'),
  }),
  leader_lost: event('This replica lost the lease: another one writes status, Secrets and revocations.', {
    identity: str('This replica.'),
  }),
  reconcile_failed: event('A reconcile failed; it is retried with backoff.', {
    key: str(
      'What was reconciled: `<prefix>:<target>`, the prefix `app`, `policy`, `revocation`, `deploy`, `webhook` or `tls`.',
    ),
    error: ErrorText,
  }),
  watch_restarted: event('A watch was restarted (not logged for the periodic resync).', {
    resource: str('The resource watched (plural).'),
    reason: StringEnum(['expired', 'stalled', 'error'] as const, {
      description:
        '`expired`: the API server no longer had its resource version (relisted); `stalled`: no event or bookmark came for too long; `error`: the watch failed.',
    }),
    error: opt(ErrorText),
  }),
  event_write_failed: event('A Kubernetes Event could not be written.', { error: ErrorText }),
  tls_secret_written: event('The serving TLS Secret was created or changed.', {
    secret: str('The Secret (`namespace/name`).'),
    changes: Type.Array(
      StringEnum(
        [
          'ca_created',
          'ca_rotated',
          'previous_ca_dropped',
          'cert_issued',
          'cert_renewed',
          'cert_hosts_changed',
          'cert_signer_changed',
        ] as const,
        { description: 'One change.' },
      ),
      { description: 'What changed.' },
    ),
    notAfter: str('When the serving certificate expires (as OpenSSL prints it).'),
  }),
  tls_secret_unreadable: event(
    'The Secret holds a certificate that cannot be read; it is not served. A failed write of the Secret is a `reconcile_failed` with key `tls:<namespace>/<secret>`, retried with backoff.',
    { secret: str('The Secret (`namespace/name`).'), error: ErrorText },
  ),
  webhook_ca_bundle_written: event('`caBundle` of the injection webhook applied.', {
    webhookConfiguration: str('The MutatingWebhookConfiguration.'),
  }),
  injection_enabled: event('Injection is on, and in which form.', {
    nativeSidecar: Type.Boolean({
      description:
        'Whether the sidecar is injected as a native sidecar (an init container that keeps running).',
    }),
  }),
  pod_injected: event('The webhook injected a Pod.', {
    namespace: str('The Pod’s namespace.'),
    pod: Pod,
    dryRun: Type.Boolean({ description: 'A dry run: nothing was created.' }),
    application: opt(str('The AccessApplication its sidecar serves.')),
    native: Type.Boolean({ description: 'Injected as a native sidecar.' }),
  }),
  injection_refused: event('The webhook refused a Pod.', {
    namespace: str('The Pod’s namespace.'),
    pod: Pod,
    dryRun: Type.Boolean({ description: 'A dry run: nothing was created.' }),
    code: str('Why ([codes](injection.md#refusals); `not_ready`: the operator has no serving CA yet).'),
    message: opt(str('What to do about it.')),
  }),
  deployment_labelled: event('The opt-in labels were set on a Deployment’s pod template.', {
    deployment: str('The Deployment (`namespace/name`).'),
    labels: Type.Record(Type.String(), Type.String(), { description: 'The labels set.' }),
  }),
  deployment_unlabelled: event('The opt-in labels were released from a Deployment’s pod template.', {
    deployment: str('The Deployment (`namespace/name`).'),
  }),
  deployment_opt_in_invalid: event('A Deployment has opt-in annotations without a valid application.', {
    deployment: str('The Deployment (`namespace/name`).'),
    message: str('What is wrong.'),
  }),
  revocation_expired: event(
    'An AccessRevocation was deleted: no session it covers can still be alive ([revocation.md](revocation.md)).',
    {
      revocation: str('The AccessRevocation.'),
      ...RevocationTarget,
      expiredAt: str('When the last session it covers expired (RFC 3339).'),
    },
  ),
  session_end_recorded: event(
    'A sidecar handed over a sign-out or a logout from the provider; an AccessRevocation now carries it to every sidecar of the application.',
    {
      app: str('`namespace/name` of the AccessApplication.'),
      pod: str('The Pod of the sidecar that handed it over.'),
      revocation: str('The AccessRevocation written (named after the end and the application).'),
      reason: str('Its reason, as the sidecar gave it.'),
      already: Type.Boolean({
        description:
          'true when that AccessRevocation was there already: the sidecar sent the end again (its answer was lost, or its next start sent what it had not seen through); nothing more was written.',
      }),
      verifyMs: int('Milliseconds verifying the sidecar and reading its request.'),
      createMs: int('Milliseconds writing the AccessRevocation.'),
    },
  ),
  operator_stopping: event('A signal came: the operator stops (shutdown).', {
    signal: str('The signal.'),
    delayMs: int('How long it keeps serving before it stops accepting.'),
    graceMs: int('How long it has in all (`--shutdown-grace`).'),
  }),
  operator_stopped: event('The operator stopped; it exits 0.', { signal: str('The signal.') }),
  operator_stop_failed: event('The stop failed; the operator exits 1.', { error: ErrorText }),
  operator_failed: event(
    'An error that no part of the operator handled ends it: a defect (report it with this line). It exits 70 and its container restarts; sidecars keep their last config and reconnect.',
    DefectFields,
  ),
};

export type OperatorEventType = keyof typeof OPERATOR_EVENTS;
/** The fields of an operator event as its writer gives them. */
export type OperatorEventFields<T extends OperatorEventType> = Fields<(typeof OPERATOR_EVENTS)[T]['fields']>;

/** The whole line of each operator event, `type` and `time` included: what the tests check lines against. */
export const OPERATOR_EVENT_LINES: Readonly<Record<OperatorEventType, TObject>> = Object.fromEntries(
  Object.entries(OPERATOR_EVENTS).map(([type, spec]) => [
    type,
    lineSchema(type, spec.fields, spec.description),
  ]),
) as unknown as Record<OperatorEventType, TObject>;
