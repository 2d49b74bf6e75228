import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/troubleshooting.md tells a platform team which line, reason, error code, metric or alert
// to look for: each name it gives must be one the shipped code writes.

const ROOT = resolve(import.meta.dirname, '../..');

function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .map((path) =>
      statSync(path).isDirectory()
        ? sourceText(path)
        : /\.(ts|yaml)$/.test(path)
          ? readFileSync(path, 'utf8')
          : '',
    )
    .join('\n');
}

/** The names in backticks: snake_case codes, CamelCase reasons and alerts, metric names. */
function namesIn(text: string): string[] {
  const names = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] ?? '');
  return [
    ...new Set(names.filter((n) => /^[a-z]+(_[a-z]+)+$/.test(n) || /^[A-Z][a-z]+([A-Z][a-z]*)+$/.test(n))),
  ];
}

describe('docs/troubleshooting.md', () => {
  const page = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');
  const shipped = ['contract', 'sidecar/src', 'operator/src', 'audit/src', 'lib', 'charts/gatehouse']
    .map((dir) => sourceText(join(ROOT, dir)))
    .join('\n');

  it('names only events, reasons, codes, metrics and alerts that the shipped code has', () => {
    const names = namesIn(page);
    expect(names.length).toBeGreaterThan(40);
    expect(names.filter((name) => !new RegExp(`\\b${name}\\b`).test(shipped))).toEqual([]);
  });

  it('a name the code does not have is found', () => {
    expect(
      namesIn('`config_waiting` `config_wating` `ApplicationNotFound`').filter((n) => !shipped.includes(n)),
    ).toEqual(['config_wating']);
  });
});
