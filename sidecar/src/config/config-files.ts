import { type Dirent, readdirSync, readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type FieldError } from '../../../contract/errors.ts';
import { fileErrorText } from '../../../lib/file-error-text.ts';

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
  /** A directory's: the path of each file read, by its name (a read told names reuses them). */
  readonly paths?: ReadonlyMap<string, string>;
  /** A directory's inode: another one (the directory replaced) is read whole, whatever was told. */
  readonly inode?: number;
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
  /**
   * For an extra directory whose changes a watcher reports, the names of its files it reported
   * since the last read. Only those are looked at: when the directory itself changed (a file
   * added, removed or renamed in it, which a file's own change leaves as it was) the files of the
   * last read are taken as they were unless named here, and when it did not, the files named here
   * are looked at all the same (changed in place). A directory without an entry here has every
   * file looked at when it changed: each sign-out of a standalone replica with 8,000 revocation
   * files stat()ed all 8,000 (70 of a reload's 115 ms).
   */
  readonly told?: ReadonlyMap<string, ReadonlySet<string>>;
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
      const sweep = required || options.sweep === true;
      read = readSource(source, required, before, sweep, sweep ? undefined : options.told?.get(source));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('config_unreadable', [{ path: source, message: fileErrorText(error) }]);
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
  /** The names of the directory's files a watcher reported since `before` (ReadOptions.told). */
  told: ReadonlySet<string> | undefined,
): SourceRead {
  const stat = statSync(source);
  const stamp = stampOf(stat);
  if (!stat.isDirectory()) {
    const file = readFileAt(source, stat, before?.files.get(source));
    if (typeof file === 'string')
      throw new ConfigError('config_unreadable', [{ path: source, message: file }]);
    return { stamp, files: new Map([[source, file]]), skipped: [] };
  }
  // Told what changed: the directory as it was (no file added or removed) needs no listing.
  const knownPaths = before?.paths;
  const narrowed =
    !sweep &&
    before !== undefined &&
    knownPaths !== undefined &&
    told !== undefined &&
    before.inode === stat.ino;
  if (narrowed && before.stamp === stamp) {
    if (told.size === 0) return before;
    const read = readToldFiles(stamp, { ...before, paths: knownPaths }, source, told);
    if (read !== undefined) return read;
  } else if (!sweep && before !== undefined && before.stamp === stamp) return before;
  const files = new Map<string, { stamp: string; text: string }>();
  const paths = new Map<string, string>();
  const skipped: FieldError[] = [];
  // Listed when it changed, also with a watcher: one on a network filesystem (a directory the
  // replicas of several hosts share) hears of this host's changes only.
  for (const name of readdirSync(source).filter(isConfigFileName).sort()) {
    // The path of the last read: no new string to join and hash again for each of 8,000 files.
    const path = knownPaths?.get(name);
    const known = narrowed && path !== undefined && !told.has(name) ? before.files.get(path) : undefined;
    if (known !== undefined && path !== undefined) {
      files.set(path, known);
      paths.set(name, path);
      continue;
    }
    const file = path ?? join(source, name);
    const fileStat = statSync(file);
    if (!fileStat.isFile()) continue;
    const read = readFileAt(file, fileStat, before?.files.get(file));
    if (typeof read !== 'string') {
      files.set(file, read);
      paths.set(name, file);
    } else if (required) throw new ConfigError('config_unreadable', [{ path: file, message: read }]);
    else skipped.push({ path: file, message: read });
  }
  return { stamp, files, skipped, paths, inode: stat.ino };
}

/**
 * An extra directory that did not change itself, read from the last read and the names its
 * watcher told (ReadOptions.told): each named file looked at (changed in place, or gone), every
 * other taken as it was, in the same order. Undefined when a named file is new to it (added
 * within the directory's stamp): the caller lists the directory.
 */
function readToldFiles(
  stamp: string,
  before: SourceRead & { readonly paths: ReadonlyMap<string, string> },
  source: string,
  told: ReadonlySet<string>,
): SourceRead | undefined {
  /** Each told file as read now; null when it is gone, not a file, or skipped. */
  const now = new Map<string, { stamp: string; text: string } | null>();
  const skipped: FieldError[] = [];
  for (const name of told) {
    if (!isConfigFileName(name)) continue;
    const path = before.paths.get(name);
    const stat = statSync(path ?? join(source, name), { throwIfNoEntry: false });
    if (path === undefined) {
      if (stat !== undefined) return undefined;
      continue;
    }
    const read = stat?.isFile() ? readFileAt(path, stat, before.files.get(path)) : undefined;
    if (typeof read === 'string') skipped.push({ path, message: read });
    now.set(path, read === undefined || typeof read === 'string' ? null : read);
  }
  const files = new Map<string, { stamp: string; text: string }>();
  const paths = new Map<string, string>();
  for (const [name, path] of before.paths) {
    const file = now.has(path) ? now.get(path) : before.files.get(path);
    if (!file) continue;
    files.set(path, file);
    paths.set(name, path);
  }
  return {
    stamp,
    files,
    skipped: [...before.skipped.filter((s) => !now.has(s.path)), ...skipped],
    paths,
    inode: before.inode,
  };
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
      throw new ConfigError('config_unreadable', [{ path: directory, message: fileErrorText(error) }]);
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
    new ConfigError('config_unreadable', [{ path, message: fileErrorText(error) }]);
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
