import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { AccessApplication } from '../../contract/api/access-application.ts';
import { AccessPolicy } from '../../contract/api/access-policy.ts';
import { AccessRevocation } from '../../contract/api/access-revocation.ts';
import { referenceTable } from '../../contract/api/reference-doc.ts';
import { customResourceDefinitions } from '../../contract/crds/custom-resource-definitions.ts';
import { CloudflareRequestLine, NativeRequestLine } from '../../contract/log-line.ts';
import {
  authEventTable,
  lineTable,
  operatorEventTable,
  sidecarEventTable,
} from '../../contract/log-reference.ts';
import { UserinfoDocument } from '../../contract/userinfo.ts';
import { operatorRbac } from '../../operator/src/rbac.ts';

const CRD_HEADER =
  '# Generated from contract/api by `node scripts/gen-docs.ts`; do not edit.\n# Apply with: kubectl apply --server-side -f crds/\n';

const RBAC_HEADER =
  '# Generated from operator/src/rbac.ts by `node scripts/gen-docs.ts`; do not edit.\n# Exactly what the operator uses: an audited e2e run checks every verb.\n';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

/**
 * A hand-written document with generated regions: each region's text, between its BEGIN and END
 * markers, replaced by the given one. A region the document lacks is an error, so none is dropped.
 */
function withRegions(text: string, regions: Record<string, string>): string {
  let out = text;
  for (const [name, content] of Object.entries(regions)) {
    const begin = new RegExp(`<!-- BEGIN generated ${name} [^\n]*-->\n`);
    const end = `<!-- END generated ${name} -->`;
    const open = begin.exec(out);
    const close = out.indexOf(end);
    if (!open || close < open.index) throw new Error(`docs: no generated region ${name}`);
    const from = open.index + open[0].length;
    out = `${out.slice(0, from)}\n${content}\n\n${out.slice(close)}`;
  }
  return out;
}

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
      'docs/logs.md',
      withRegions(read('docs/logs.md'), {
        'request-native': lineTable(NativeRequestLine),
        'request-cloudflare': lineTable(CloudflareRequestLine),
        'sidecar-events': sidecarEventTable(),
        'auth-events': authEventTable(),
      }),
    ],
    ['docs/operator.md', withRegions(read('docs/operator.md'), { 'operator-events': operatorEventTable() })],
    [
      'docs/authentication.md',
      withRegions(read('docs/authentication.md'), { userinfo: lineTable(UserinfoDocument) }),
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
