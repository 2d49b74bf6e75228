import { stringify } from 'yaml';
import { customResourceDefinitions } from '../../operator/src/crds/custom-resource-definitions.ts';
import { AccessApplication } from '../../sidecar/src/api/access-application.ts';
import { AccessPolicy } from '../../sidecar/src/api/access-policy.ts';
import { referenceTable } from '../../sidecar/src/api/reference-doc.ts';

const CRD_HEADER =
  '# Generated from sidecar/src/api by `node scripts/gen-docs.ts`; do not edit.\n# Apply with: kubectl apply --server-side -f crds/\n';

/** Every generated file (reference docs, CRDs) and its expected content. */
export function generatedDocs(): [string, string][] {
  const crds = customResourceDefinitions();
  return [
    [
      'crds/accessapplications.gatehouse.dev.yaml',
      CRD_HEADER + stringify(crds.accessApplication, { lineWidth: 0 }),
    ],
    ['crds/accesspolicies.gatehouse.dev.yaml', CRD_HEADER + stringify(crds.accessPolicy, { lineWidth: 0 })],
    [
      'docs/reference/access-application.md',
      `# AccessApplication reference (gatehouse.dev/v1alpha1)\n\n<!-- Generated from sidecar/src/api/access-application.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\n${referenceTable(AccessApplication)}`,
    ],
    [
      'docs/reference/access-policy.md',
      `# AccessPolicy reference (gatehouse.dev/v1alpha1)\n\n<!-- Generated from sidecar/src/api/access-policy.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\nEach entry of \`include\`, \`require\` and \`exclude\` is one selector: an object with exactly one field. See [the policy language](../policy.md) for semantics and examples.\n\n${referenceTable(AccessPolicy)}`,
    ],
  ];
}
