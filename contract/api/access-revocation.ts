import Type, { type Static } from 'typebox';
import { GatehouseObject } from './gatehouse-object.ts';
import { cel, exactlyOneOf, Opt } from './schema-helpers.ts';
import { StatusBase } from './status.ts';

/** `namespace/name` of an AccessApplication. */
const ApplicationKey = Type.String({
  minLength: 3,
  maxLength: 317,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
  description: 'An AccessApplication as namespace/name.',
});

export const AccessRevocationSpec = Type.Object(
  {
    user: Opt(
      Type.String({
        minLength: 3,
        maxLength: 320,
        pattern: '^[^@\\s]+@[^@\\s]+$',
        description:
          'Email address of the user whose sessions end (compared without regard to case, with the email of the session). Exactly one of user, subject, session and providerSession.',
      }),
    ),
    subject: Opt(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'Subject (OIDC sub) of the user whose sessions end, for users without an email. Exactly one of user, subject, session and providerSession.',
      }),
    ),
    session: Opt(
      Type.String({
        minLength: 16,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_-]+$',
        description:
          'One Gatehouse session id (`sessionId` in the log lines, the Session of `gatehouse audit sessions`): that session ends, whenever it signed in. Written by the operator when a user signs out, so the sign-out reaches every replica; `gatehouse revoke --session` writes one too.',
      }),
    ),
    providerSession: Opt(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          "The identity provider's session id (the `sid` of its ID token, of a back-channel logout token and of a front-channel logout), with provider: every Gatehouse session signed in through that provider session ends.",
      }),
    ),
    provider: Opt(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description:
          'With subject: only sessions signed in through this identity provider (a subject is unique per provider); default any provider. Required with providerSession.',
      }),
    ),
    applications: Opt(
      Type.Array(ApplicationKey, {
        maxItems: 256,
        'x-kubernetes-list-type': 'set',
        description:
          'The applications whose sessions end, as namespace/name. Absent or empty: every application.',
      }),
    ),
    revokedBefore: Opt(
      Type.String({
        format: 'date-time',
        description:
          'Sessions signed in at or before this time end; later sign-ins are not affected. Default: when the object was created.',
      }),
    ),
    reason: Opt(
      Type.String({
        maxLength: 512,
        description: 'Why, for the log and for colleagues (e.g. a ticket number).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Which sessions to end: those of one user (or one session, or one identity provider session), in some or all applications, signed in before a time.',
    'x-kubernetes-validations': [
      cel(
        exactlyOneOf(['user', 'subject', 'session', 'providerSession']),
        'set exactly one of user, subject, session and providerSession',
      ),
      cel(
        '!has(self.provider) || has(self.subject) || has(self.providerSession)',
        'provider goes with subject or providerSession',
      ),
      cel('!has(self.providerSession) || has(self.provider)', 'providerSession needs provider'),
    ],
  },
);

export const AccessRevocationStatus = Type.Object(
  {
    ...StatusBase('Ready: the revocation is in the config of every application it covers.'),
    revokedBefore: Opt(Type.String({ format: 'date-time', description: 'The cut-off in force.' })),
    applications: Opt(
      Type.Array(ApplicationKey, {
        maxItems: 4096,
        description: 'The applications whose sidecars enforce it now.',
      }),
    ),
    expiresAt: Opt(
      Type.String({
        format: 'date-time',
        description:
          'When no session it covers can still be alive (cut-off plus the longest session lifetime among the applications); the operator deletes it then.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Observed state, written by the operator.' },
);

export const AccessRevocation = GatehouseObject(
  'AccessRevocation',
  AccessRevocationSpec,
  'Ends the sessions of one user, in every sidecar of some or all applications, within a second. Cluster-scoped; deleted by the operator once no session it covers can be alive.',
  AccessRevocationStatus,
);

export type AccessRevocationSpec = Static<typeof AccessRevocationSpec>;
export type AccessRevocation = Static<typeof AccessRevocation>;
export type AccessRevocationStatus = Static<typeof AccessRevocationStatus>;
