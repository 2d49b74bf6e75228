import { basename, relative } from 'node:path';
import {
  Composer,
  type Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  parseAllDocuments,
} from 'yaml';
import { API_GROUP } from '../../../contract/api/schema-helpers.ts';
import { deepFreeze } from '../../../contract/config/sidecar-config.ts';
import type { FieldError } from '../../../contract/errors.ts';
import type { ConfigSnapshot } from './config-files.ts';
import { fastYamlDocuments } from './yaml-fast-path.ts';

/** One YAML document with the location users need to find it again. */
export interface SourceDocument {
  /** `file.yaml#2`: file name and 1-based document index. */
  readonly location: string;
  readonly value: unknown;
  /** Line and column (1-based) of a field path (`spec.hosts[0]`), or of its nearest parent that exists. */
  position(fieldPath: string): { line: number; column: number } | undefined;
}

/** `spec.hosts[0].name` as YAML path segments: ['spec', 'hosts', 0, 'name']. */
function segments(fieldPath: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const match of fieldPath.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[1] !== undefined) out.push(match[1]);
  }
  return out;
}

/** The node of a path's last step: a mapping's key (where a person looks for a field), or a sequence item. */
function stepNode(doc: Document, path: readonly (string | number)[]): unknown {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) return parent.items.find((pair) => isScalar(pair.key) && pair.key.value === last)?.key;
  if (isSeq(parent) && typeof last === 'number') return parent.items[last];
  return undefined;
}

function positionIn(
  doc: Document,
  lines: LineCounter,
  fieldPath: string,
): { line: number; column: number } | undefined {
  const path = segments(fieldPath);
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : stepNode(doc, path.slice(0, n));
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return undefined;
}

/** A file's documents parsed again, with line positions, for messages: only when one is needed. */
function reparsed(text: string): () => { docs: Document.Parsed[]; lines: LineCounter } {
  let parsed: { docs: Document.Parsed[]; lines: LineCounter } | undefined;
  return () => {
    if (!parsed) {
      const lines = new LineCounter();
      parsed = {
        docs: parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines }),
        lines,
      };
    }
    return parsed;
  };
}

/**
 * Parses every document of every file; YAML syntax errors are reported with file, line and
 * column. A file is read by the fast path when it can be (yaml-fast-path.ts: the same values,
 * about eight times faster), else by `yaml`, whose documents are composed one at a time and
 * dropped once converted: the YAML tree of a thousand policies is many times their size, and
 * positions are needed only for the rare message, for which the file is parsed again.
 */
export function parseSnapshot(
  snapshot: ConfigSnapshot,
  cache?: ParseCache,
): {
  documents: SourceDocument[];
  errors: FieldError[];
} {
  const documents: SourceDocument[] = [];
  const errors: FieldError[] = [];
  for (const [file, text] of snapshot.files) {
    // Files of a tree by their path under it: two of them may have the same name.
    const name = snapshot.root === undefined ? basename(file) : relative(snapshot.root, file);
    const cached = cache?.files.get(file);
    const parsed =
      cached !== undefined && cached.text === text && cached.name === name ? cached : parseFile(text, name);
    if (cache && parsed !== cached && text.length <= CACHED_FILE_CHARS) {
      for (const document of parsed.documents) deepFreeze(document.value);
      cache.files.set(file, { ...parsed, text, name });
    }
    documents.push(...parsed.documents);
    errors.push(...parsed.errors);
  }
  if (cache) for (const file of cache.files.keys()) if (!snapshot.files.has(file)) cache.files.delete(file);
  return { documents, errors };
}

/**
 * The documents of files parsed before, by path: a reload parses only the files whose text
 * changed (a shared revocations directory of 8,000 files, one added by a sign-out, took 130 ms
 * of parsing at every reload). Their values are frozen: nothing downstream may change them. Only
 * small files are kept (CACHED_FILE_CHARS): a revocation is a few hundred bytes, while the parsed
 * form of a file of 1,000 policies held 2 MiB more at rest and is read again only when it changes.
 */
export interface ParseCache {
  readonly files: Map<
    string,
    {
      readonly text: string;
      readonly name: string;
      readonly documents: SourceDocument[];
      readonly errors: FieldError[];
    }
  >;
}

export const createParseCache = (): ParseCache => ({ files: new Map() });

/** The largest file whose documents are kept parsed between loads. */
export const CACHED_FILE_CHARS = 16 * 1024;

/** One file's documents, each with its location, and its syntax errors. */
function parseFile(text: string, name: string): { documents: SourceDocument[]; errors: FieldError[] } {
  const documents: SourceDocument[] = [];
  const errors: FieldError[] = [];
  const again = reparsed(text);
  const positionAt = (index: number, path: string) => {
    const { docs, lines } = again();
    const parsed = docs[index - 1];
    return parsed ? positionIn(parsed, lines, path) : undefined;
  };
  const push = (value: unknown, index: number, item?: number): void => {
    const within = item === undefined ? '' : `items[${item}]`;
    documents.push({
      location: `${name}#${index}${within && `.${within}`}`,
      value,
      position: (fieldPath) =>
        positionAt(index, within && fieldPath ? `${within}.${fieldPath}` : within || fieldPath),
    });
  };
  const listError = (index: number, path: string, message: string): void => {
    const position = positionAt(index, path);
    errors.push({ path: `${name}#${index} ${path}`, message, ...(position && { position }) });
  };
  const add = (value: unknown, index: number): void => {
    if (value === null || value === undefined) return; // empty document, e.g. a trailing ---
    const list = listItems(value);
    if (list === undefined) {
      push(value, index);
      return;
    }
    if (!Array.isArray(list)) {
      listError(index, 'items', 'must be a list of Kubernetes objects');
      return;
    }
    for (const [item, element] of list.entries()) {
      if (listItems(element) !== undefined)
        listError(index, `items[${item}]`, 'is a List inside a List, which is not read');
      else if (element !== null && element !== undefined) push(element, index, item);
    }
  };
  const fast = fastYamlDocuments(text);
  if (fast) {
    for (const [i, value] of fast.entries()) add(value, i + 1);
    return { documents, errors };
  }
  let index = 0;
  let syntaxErrors = 0;
  const composer = new Composer({ uniqueKeys: true });
  for (const doc of composer.compose(new Parser().parse(text))) {
    index += 1;
    if (doc.errors.length > 0) {
      const pretty = again().docs[index - 1]?.errors ?? doc.errors;
      for (const e of pretty) {
        if (++syntaxErrors > MAX_SYNTAX_ERRORS_PER_FILE) continue;
        const line = e.linePos?.[0];
        errors.push({
          path: line ? `${name}:${line.line}:${line.col}` : `${name}#${index}`,
          message: shortened(e.message.split('\n')[0] ?? e.message),
        });
      }
      continue;
    }
    add(doc.toJS({ maxAliasCount: 100 }), index);
  }
  if (syntaxErrors > MAX_SYNTAX_ERRORS_PER_FILE)
    errors.push({
      path: name,
      message: `${syntaxErrors - MAX_SYNTAX_ERRORS_PER_FILE} more YAML syntax errors (${syntaxErrors} in all: is it a YAML file?)`,
    });
  return { documents, errors };
}

/**
 * The items of a Kubernetes list (what `kubectl get … -o yaml` writes for several objects:
 * `apiVersion: v1`, `kind: List`; the API's own `AccessPolicyList` and the like), read as if each
 * were a document of its own; undefined for any other value. Not an array when the list is broken.
 */
function listItems(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { apiVersion, kind, items } = value as { apiVersion?: unknown; kind?: unknown; items?: unknown };
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return undefined;
  const isList =
    (apiVersion === 'v1' && kind === 'List') ||
    (apiVersion.startsWith(`${API_GROUP}/`) && kind.endsWith('List') && kind.length > 4);
  return isList ? items : undefined;
}

/**
 * YAML syntax errors told per file, at most: a file that is not YAML at all (a binary, an archive
 * left in the directory) has hundreds, which buried every other message.
 */
export const MAX_SYNTAX_ERRORS_PER_FILE = 5;
/** Characters of a syntax error's message, at most: it quotes the token, which may be a whole binary line. */
const MAX_SYNTAX_MESSAGE = 200;

function shortened(message: string): string {
  return message.length <= MAX_SYNTAX_MESSAGE ? message : `${message.slice(0, MAX_SYNTAX_MESSAGE)}…`;
}
