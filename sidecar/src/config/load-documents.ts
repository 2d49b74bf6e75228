import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, type FieldError } from '../../../contract/errors.ts';

/** One YAML document with the location users need to find it again. */
export interface SourceDocument {
  /** `file.yaml#2`: file name and 1-based document index. */
  readonly location: string;
  readonly value: unknown;
}

/** Raw bytes of every config file, keyed by path; compared to decide whether anything changed. */
export interface ConfigSnapshot {
  readonly files: ReadonlyMap<string, string>;
}

const CONFIG_EXTENSIONS = /\.(ya?ml|json)$/i;

/** Lists the config files behind a path: the file itself, or the YAML/JSON files of a directory (sorted, no dotfiles). */
export function listConfigFiles(path: string): string[] {
  const stat = statSync(path);
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => !name.startsWith('.') && CONFIG_EXTENSIONS.test(name))
    .sort()
    .map((name) => join(path, name))
    .filter((file) => statSync(file).isFile());
}

/**
 * Reads the current bytes of every config file, then of every file of the extra directories
 * (which may be empty, e.g. a shared revocations directory); throws ConfigError(config_unreadable)
 * when it cannot.
 */
export function readSnapshot(path: string, extraDirectories: readonly string[] = []): ConfigSnapshot {
  const files = new Map<string, string>();
  for (const [source, required] of [
    [path, true] as const,
    ...extraDirectories.map((d) => [d, false] as const),
  ]) {
    const before = files.size;
    try {
      for (const file of listConfigFiles(source)) files.set(file, readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError('config_unreadable', [{ path: source, message: (error as Error).message }]);
    }
    if (required && files.size === before)
      throw new ConfigError('config_unreadable', [{ path, message: 'no .yaml, .yml or .json files found' }]);
  }
  return { files };
}

/** Parses every document of every file; YAML syntax errors are reported with file, line and column. */
export function parseSnapshot(snapshot: ConfigSnapshot): {
  documents: SourceDocument[];
  errors: FieldError[];
} {
  const documents: SourceDocument[] = [];
  const errors: FieldError[] = [];
  for (const [file, text] of snapshot.files) {
    const name = basename(file);
    let index = 0;
    for (const doc of parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true })) {
      index += 1;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const line = e.linePos?.[0];
          errors.push({
            path: line ? `${name}:${line.line}:${line.col}` : `${name}#${index}`,
            message: e.message.split('\n')[0] ?? e.message,
          });
        }
        continue;
      }
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      if (value === null || value === undefined) continue; // empty document, e.g. a trailing ---
      documents.push({ location: `${name}#${index}`, value });
    }
  }
  return { documents, errors };
}
