import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedDocs } from '../helpers/generated-docs.ts';

describe('generated reference docs', () => {
  it.each(generatedDocs())('%s matches the schema (run node scripts/gen-docs.ts)', (path, expected) => {
    expect(readFileSync(resolve(import.meta.dirname, '../..', path), 'utf8')).toBe(expected);
  });
});
