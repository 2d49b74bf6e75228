import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The import rules between the top-level pieces: `lib/` (generic helpers) imports nothing of
 * Gatehouse, `contract/` (what the pieces agree on) imports only `lib/`, and the three programs
 * import `lib/` and `contract/` but never each other. `bin/` is the entry point and may import all.
 */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  lib: ['lib'],
  contract: ['lib', 'contract'],
  sidecar: ['lib', 'contract', 'sidecar'],
  operator: ['lib', 'contract', 'operator'],
  audit: ['lib', 'contract', 'audit'],
};

/** One import that crosses a rule. */
export interface ForbiddenImport {
  readonly file: string;
  readonly imports: string;
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;

/** The top-level piece a repository-relative path belongs to. */
function pieceOf(path: string): string {
  return path.split('/')[0] ?? '';
}

/** Every relative import of the given sources (repository-relative path → text) that breaks a rule. */
export function forbiddenImports(sources: ReadonlyMap<string, string>): ForbiddenImport[] {
  const found: ForbiddenImport[] = [];
  for (const [file, text] of sources) {
    const allowed = ALLOWED_IMPORTS[pieceOf(file)];
    if (!allowed) continue;
    for (const match of text.matchAll(SPECIFIER)) {
      const target = join(dirname(file), match[1] as string);
      if (!allowed.includes(pieceOf(target))) found.push({ file, imports: target });
    }
  }
  return found;
}

function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(root, path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The sources of every piece the rules cover, read from the repository at `root`. */
export function repositorySources(root: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const piece of Object.keys(ALLOWED_IMPORTS))
    for (const file of sourceFiles(root, piece))
      sources.set(relative(root, resolve(root, file)), readFileSync(join(root, file), 'utf8'));
  return sources;
}
