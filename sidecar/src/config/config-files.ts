import { type Dirent, readdirSync, readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type FieldError } from '../../../contract/errors.ts';

/**
 * The largest config or revocation file read. A file beyond it (a log copied into the
 * directory, a disk image) would be read whole, every poll, into a sidecar whose memory limit is
 * 512 MiB.
 */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** Raw bytes of every config file, keyed by path; compared to decide whether anything changed. */
export interface ConfigSnapshot {
  readonly files: ReadonlyMap<string, string>;
  /** What each source was when read (see readSnapshot), for the next read to reuse. */
  readonly sources?: ReadonlyMap<string, SourceRead>;
  /** Files of the extra directories left unread, and why (each is skipped; the others apply). */
  readonly skipped?: readonly FieldError[];
  /**
   * The directory a tree of files was read from (readTreeSnapshot): files are named by their path
   * under it (`wiki/app.yaml`), where two of a tree may have the same name. Else by their name.
   */
  readonly root?: string;
}

/** A source as read: its own stamp, and each file's stamp and text. */
interface SourceRead {
  readonly stamp: string;
  readonly files: ReadonlyMap<string, { readonly stamp: string; readonly text: string }>;
  readonly skipped: readonly FieldError[];
}

const CONFIG_EXTENSIONS = /\.(ya?ml|json)$/i;
const NO_FILES = 'no .yaml, .yml or .json files found';

/** Whether a directory's file of this name is read as config: YAML or JSON, not a dotfile. */
export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && CONFIG_EXTENSIONS.test(name);
}

/** What changes when a file or a directory does: its inode, size and times. */
function stampOf(stat: Stats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

export interface ReadOptions {
  /** The snapshot read last: files whose stamps did not change are not read again. */
  readonly previous?: ConfigSnapshot | undefined;
  /**
   * Whether every file of the extra directories is looked at. Without it, an extra directory
   * whose own stamp did not change (no file added, removed or renamed in it) is taken as it was:
   * a shared revocations directory of 8,000 files cost an idle sidecar 12% of a core and stalled
   * it 100 ms every second when each poll read every file.
   */
  readonly sweep?: boolean;
}

/**
 * Reads the current bytes of every config file, then of every file of the extra directories
 * (which may be empty, e.g. a shared revocations directory); throws ConfigError(config_unreadable)
 * when it cannot. A file is read again only when its stamp changed. A config file over
 * MAX_CONFIG_FILE_BYTES makes the config unreadable; such a file in an extra directory is skipped.
 */
export function readSnapshot(
  path: string,
  extraDirectories: readonly string[] = [],
  options: ReadOptions = {},
): ConfigSnapshot {
  const files = new Map<string, string>();
  const sources = new Map<string, SourceRead>();
  const skipped: FieldError[] = [];
  for (const [source, required] of [
    [path, true] as const,
    ...extraDirectories.map((d) => [d, false] as const),
  ]) {
    let read: SourceRead;
    try {
      const before = options.previous?.sources?.get(source);
      read = readSource(source, required, before, required || options.sweep === true);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('config_unreadable', [{ path: source, message: (error as Error).message }]);
    }
    if (required && read.files.size === 0)
      throw new ConfigError('config_unreadable', [{ path, message: NO_FILES }]);
    sources.set(source, read);
    for (const [file, { text }] of read.files) files.set(file, text);
    skipped.push(...read.skipped);
  }
  return { files, sources, skipped };
}

function readSource(
  source: string,
  required: boolean,
  before: SourceRead | undefined,
  sweep: boolean,
): SourceRead {
  const stat = statSync(source);
  const stamp = stampOf(stat);
  if (!stat.isDirectory()) {
    const file = readFileAt(source, stat, before?.files.get(source));
    if (typeof file === 'string')
      throw new ConfigError('config_unreadable', [{ path: source, message: file }]);
    return { stamp, files: new Map([[source, file]]), skipped: [] };
  }
  if (!sweep && before !== undefined && before.stamp === stamp) return before;
  const files = new Map<string, { stamp: string; text: string }>();
  const skipped: FieldError[] = [];
  for (const name of readdirSync(source).filter(isConfigFileName).sort()) {
    const file = join(source, name);
    const fileStat = statSync(file);
    if (!fileStat.isFile()) continue;
    const read = readFileAt(file, fileStat, before?.files.get(file));
    if (typeof read !== 'string') files.set(file, read);
    else if (required) throw new ConfigError('config_unreadable', [{ path: file, message: read }]);
    else skipped.push({ path: file, message: read });
  }
  return { stamp, files, skipped };
}

/** A file's stamp and text (the earlier text when its stamp is the same), or why it is not read. */
function readFileAt(
  file: string,
  stat: Stats,
  before: { readonly stamp: string; readonly text: string } | undefined,
): { stamp: string; text: string } | string {
  const stamp = stampOf(stat);
  if (before !== undefined && before.stamp === stamp) return before;
  if (stat.size > MAX_CONFIG_FILE_BYTES)
    return `${stat.size} bytes: larger than the ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB a config file may hold`;
  return { stamp, text: readFileSync(file, 'utf8') };
}

/** The name documents read from standard input are told by (`stdin#2 spec.hosts`). */
export const STANDARD_INPUT = 'stdin';

/**
 * Config from standard input (`-`: what `kubectl get … -o yaml` pipes), read to its end; more
 * than MAX_CONFIG_FILE_BYTES makes it unreadable, as for a file.
 */
export async function readStandardInput(
  input: NodeJS.ReadableStream = process.stdin,
): Promise<ConfigSnapshot> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_CONFIG_FILE_BYTES)
      throw new ConfigError('config_unreadable', [
        {
          path: STANDARD_INPUT,
          message: `more than the ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB a config file may hold`,
        },
      ]);
    chunks.push(bytes);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '')
    throw new ConfigError('config_unreadable', [{ path: STANDARD_INPUT, message: 'nothing was read' }]);
  return { files: new Map([[STANDARD_INPUT, text]]) };
}

/** The most config files a tree (`--recursive`) may hold: a command pointed at `/` ends. */
export const MAX_TREE_FILES = 10_000;
/** The deepest a tree is walked. */
const MAX_TREE_DEPTH = 32;

/**
 * The config files under a directory and its subdirectories, in order, at most `atMost`: hidden
 * files and directories (`.git`) are passed over, and a link to a directory is not followed (no
 * loop, nothing outside the tree).
 */
function treeFiles(root: string, atMost: number): { readonly path: string; readonly stat: Stats }[] {
  const found: { path: string; stat: Stats }[] = [];
  const walk = (directory: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch (error) {
      throw new ConfigError('config_unreadable', [{ path: directory, message: (error as Error).message }]);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (found.length > atMost) return;
      if (entry.name.startsWith('.')) continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_TREE_DEPTH) walk(path, depth + 1);
        continue;
      }
      if (!isConfigFileName(entry.name)) continue;
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isFile()) found.push({ path, stat });
    }
  };
  walk(root, 0);
  return found;
}

/**
 * The config files of a directory and of its subdirectories, for a command's `--recursive` (a
 * repository of manifests, one directory per application), named by their path under it.
 */
export function readTreeSnapshot(root: string): ConfigSnapshot {
  const unreadable = (path: string, error: unknown) =>
    new ConfigError('config_unreadable', [{ path, message: (error as Error).message }]);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch (error) {
    throw unreadable(root, error);
  }
  if (!isDirectory) return readSnapshot(root);
  const paths = treeFiles(root, MAX_TREE_FILES);
  if (paths.length > MAX_TREE_FILES)
    throw new ConfigError('config_unreadable', [
      {
        path: root,
        message: `more than ${MAX_TREE_FILES} .yaml, .yml or .json files under it: give the directory of the manifests`,
      },
    ]);
  if (paths.length === 0)
    throw new ConfigError('config_unreadable', [{ path: root, message: `${NO_FILES}, in it or under it` }]);
  const files = new Map<string, string>();
  for (const { path, stat } of paths) {
    let read: ReturnType<typeof readFileAt>;
    try {
      read = readFileAt(path, stat, undefined);
    } catch (error) {
      throw unreadable(path, error);
    }
    if (typeof read === 'string') throw new ConfigError('config_unreadable', [{ path, message: read }]);
    files.set(path, read.text);
  }
  return { files, root };
}

/**
 * The snapshot of a command's `<file|dir>` argument: `-` is standard input; a directory's own
 * files, or with `recursive` those of its subdirectories too. A directory whose config files are
 * all in subdirectories is told so.
 */
export function readSnapshotOf(path: string, recursive = false): ConfigSnapshot | Promise<ConfigSnapshot> {
  if (path === '-') return readStandardInput();
  if (recursive) return readTreeSnapshot(path);
  try {
    return readSnapshot(path);
  } catch (error) {
    if (!(error instanceof ConfigError) || error.errors[0]?.message !== NO_FILES) throw error;
    let below: number;
    try {
      below = treeFiles(path, MAX_TREE_FILES).length;
    } catch {
      throw error;
    }
    if (below === 0) throw error;
    throw new ConfigError('config_unreadable', [
      {
        path,
        message: `${NO_FILES} in it; ${below > MAX_TREE_FILES ? `more than ${MAX_TREE_FILES}` : below} in its subdirectories: give --recursive (-R) to read them`,
      },
    ]);
  }
}
