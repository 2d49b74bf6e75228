import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Every relative link of the README and docs/ reaches a file that exists, and a #section of a
// Markdown file one of its headings (as GitHub makes their anchors).

const ROOT = resolve(import.meta.dirname, '../..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? markdownFiles(join(dir, entry.name))
      : entry.name.endsWith('.md')
        ? [join(dir, entry.name)]
        : [],
  );
}

const withoutCode = (text: string): string => text.replace(/```[\s\S]*?```/g, '');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  return new Set(
    [...withoutCode(readFileSync(file, 'utf8')).matchAll(/^#+ (.*)$/gm)].map((m) =>
      headingAnchor(m[1] ?? ''),
    ),
  );
}

/** The links of a Markdown text that break: a missing file, or a section its file does not have. */
function brokenLinks(file: string, text: string): string[] {
  const broken: string[] = [];
  for (const match of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1] ?? '';
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#');
    const linked = path === '' ? file : resolve(dirname(file), path);
    if (!existsSync(linked)) broken.push(`${target} (no such file)`);
    else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor))
      broken.push(`${target} (no such section)`);
  }
  return broken;
}

describe('links of the README and docs/', () => {
  const files = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

  it.each(files.map((f) => [relative(ROOT, f), f]))(
    '%s: every relative link and section exists',
    (_name, file) => {
      expect(brokenLinks(file, readFileSync(file, 'utf8'))).toEqual([]);
    },
  );

  it('a link to a missing file or section is found', () => {
    const file = join(ROOT, 'docs/troubleshooting.md');
    expect(
      brokenLinks(
        file,
        '[a](sidecar.md#no-such-section) [b](nowhere.md) [c](sidecar.md#timeouts-and-limits) [d](https://x.test)',
      ),
    ).toEqual(['sidecar.md#no-such-section (no such section)', 'nowhere.md (no such file)']);
  });
});
