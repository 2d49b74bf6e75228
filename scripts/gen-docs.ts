// Writes the generated reference docs; `npm test` fails when the committed files differ.
//   node scripts/gen-docs.ts
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generatedDocs } from '../test/helpers/generated-docs.ts';

const root = resolve(import.meta.dirname, '..');
for (const [path, text] of generatedDocs()) {
  writeFileSync(resolve(root, path), text);
  console.warn(`wrote ${path}`);
}
