import { AccessApplication } from '../../sidecar/src/api/access-application.ts';
import { referenceTable } from '../../sidecar/src/api/reference-doc.ts';

/** Every generated doc file and its expected content. */
export function generatedDocs(): [string, string][] {
  return [
    [
      'docs/reference/access-application.md',
      `# AccessApplication reference (gatehouse.dev/v1alpha1)\n\n<!-- Generated from sidecar/src/api/access-application.ts by \`node scripts/gen-docs.ts\`; do not edit. -->\n\n${referenceTable(AccessApplication)}`,
    ],
  ];
}
