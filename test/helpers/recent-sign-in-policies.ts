import type { AccessPolicy } from '../../contract/api/access-policy.ts';

/**
 * An application's policies by name: its admin area (`/admin/**`) asks members of `engineering`
 * for an authentication within `window` (`admins-recently`); they may use the rest at any age
 * (`engineers`).
 */
export function adminAreaAsksRecentSignIn(window: string): Record<string, AccessPolicy['spec']> {
  return {
    'admins-recently': {
      decision: 'allow',
      include: [{ paths: ['/admin/**'] }],
      require: [{ groups: ['engineering'] }, { signedInWithin: window }],
    },
    engineers: {
      decision: 'allow',
      include: [{ groups: ['engineering'] }],
      exclude: [{ paths: ['/admin/**'] }],
    },
  };
}
