import { stringify } from 'yaml';
import { AccessApplication } from '../../contract/api/access-application.ts';
import { AccessPolicy } from '../../contract/api/access-policy.ts';
import { AccessRevocation } from '../../contract/api/access-revocation.ts';
import { referenceTable } from '../../contract/api/reference-doc.ts';
import { customResourceDefinitions } from '../../contract/crds/custom-resource-definitions.ts';
import { CloudflareRequestLine, logLineTable, NativeRequestLine } from '../../contract/log-line.ts';
import { operatorRbac } from '../../operator/src/rbac.ts';

const CRD_HEADER =
  '# Generated from contract/api by `node scripts/gen-docs.ts`; do not edit.\n# Apply with: kubectl apply --server-side -f crds/\n';

const RBAC_HEADER =
  '# Generated from operator/src/rbac.ts by `node scripts/gen-docs.ts`; do not edit.\n# Exactly what the operator uses: an audited e2e run checks every verb.\n';

/** Every generated file (reference docs, CRDs, the chart's CRDs and RBAC) and its expected content. */
export function generatedDocs(): [string, string][] {
  const crds = customResourceDefinitions();
  const application = CRD_HEADER + stringify(crds.accessApplication, { lineWidth: 0 });
  const policy = CRD_HEADER + stringify(crds.accessPolicy, { lineWidth: 0 });
  const revocation = CRD_HEADER + stringify(crds.accessRevocation, { lineWidth: 0 });
  const rbac = operatorRbac('{{ .Release.Namespace }}', {
    kind: 'ServiceAccount',
    name: 'gatehouse-operator',
  });
  return [
    ['crds/accessapplications.gatehouse.dev.yaml', application],
    ['crds/accesspolicies.gatehouse.dev.yaml', policy],
    ['crds/accessrevocations.gatehouse.dev.yaml', revocation],
    ['charts/gatehouse/crds/accessapplications.gatehouse.dev.yaml', application],
    ['charts/gatehouse/crds/accesspolicies.gatehouse.dev.yaml', policy],
    ['charts/gatehouse/crds/accessrevocations.gatehouse.dev.yaml', revocation],
    [
      'charts/gatehouse/templates/rbac.yaml',
      RBAC_HEADER + rbac.map((doc) => stringify(doc, { lineWidth: 0 })).join('---\n'),
    ],
    [
      'docs/reference/log-lines.md',
      `# Request line reference\n\n<!-- Generated from contract/log-line.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\nThe schema every sidecar writes its request lines by (see [logs.md](../logs.md) for the events and how to ship the lines). Tests check real lines against it.\n\n## Native profile (default)\n\n${logLineTable(NativeRequestLine)}\n\n## Cloudflare profile (\`spec.logging.profile: cloudflare\`)\n\nCloudflare HTTP request field names where one exists; Gatehouse fields prefixed \`Gatehouse\`. Each names the native field it carries.\n\n${logLineTable(CloudflareRequestLine)}\n`,
    ],
    [
      'docs/reference/access-application.md',
      `# AccessApplication reference (gatehouse.dev/v1alpha1)\n\n<!-- Generated from contract/api/access-application.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\n${referenceTable(AccessApplication)}`,
    ],
    [
      'docs/reference/access-revocation.md',
      `# AccessRevocation reference (gatehouse.dev/v1alpha1, cluster-scoped)\n\n<!-- Generated from contract/api/access-revocation.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\nCreate one with \`gatehouse revoke\` (or \`kubectl gatehouse revoke\`); see [revocation.md](../revocation.md).\n\n${referenceTable(AccessRevocation)}`,
    ],
    [
      'docs/reference/access-policy.md',
      `# AccessPolicy reference (gatehouse.dev/v1alpha1)\n\n<!-- Generated from contract/api/access-policy.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\nEach entry of \`include\`, \`require\` and \`exclude\` is one selector: an object with exactly one field. See [the policy language](../policy.md) for semantics and examples.\n\n${referenceTable(AccessPolicy)}`,
    ],
  ];
}
