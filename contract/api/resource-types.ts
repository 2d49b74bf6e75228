import { resourceType } from '../../lib/kube/resource-types.ts';
import { API_GROUP } from './schema-helpers.ts';

const VERSION = 'v1alpha1';

/** The gatehouse.dev resources, as the Kubernetes API serves them. */
export const ACCESS_APPLICATIONS = resourceType(
  API_GROUP,
  VERSION,
  'AccessApplication',
  'accessapplications',
);
export const ACCESS_POLICIES = resourceType(API_GROUP, VERSION, 'AccessPolicy', 'accesspolicies');
export const ACCESS_REVOCATIONS = resourceType(
  API_GROUP,
  VERSION,
  'AccessRevocation',
  'accessrevocations',
  false,
);
