import { basename } from 'node:path';

/**
 * The kubelet rotates a container's log file (`/var/log/pods/<pod>/<container>/0.log`) by
 * renaming it `0.log.<YYYYMMDD-hhmmss>` and compressing all but the newest rotated file to
 * `.gz`; the runtime then goes on in a new `0.log`. A line the runtime was writing in parts at
 * that moment has its first parts (`P` records) at the end of one file and its end (`F`) at the
 * start of the next: read as separate files, that line is lost. So the files of one rotation
 * series are read as one stream, oldest first.
 */
const ROTATED = /^(.+\.log)\.(\d{8}-\d{6})(\.gz)?$/;

interface Rotated {
  readonly path: string;
  readonly live: string;
  readonly stamp: string;
  readonly compressed: boolean;
}

function rotated(path: string): Rotated | undefined {
  const match = ROTATED.exec(basename(path));
  if (!match) return undefined;
  const stamp = match[2] as string;
  const compressed = match[3] !== undefined;
  // The live file's path as the rotated one's was written, so the two compare equal.
  const live = path.slice(0, path.length - stamp.length - 1 - (compressed ? 3 : 0));
  return { path, live, stamp, compressed };
}

/**
 * The files given, grouped: each rotation series (its rotated files, oldest first, then the live
 * file when given) as one group, in the place of its first file; every other file a group of its
 * own. A rotated file given both plain and compressed (copied while the kubelet compressed it:
 * it writes the `.gz` whole before it removes the plain file) is read once, plain.
 */
export function rotationSeries(paths: readonly string[]): string[][] {
  const series = new Map<string, Rotated[]>();
  for (const path of paths) {
    const file = rotated(path);
    if (!file) continue;
    const members = series.get(file.live);
    if (members) members.push(file);
    else series.set(file.live, [file]);
  }
  const groups: string[][] = [];
  const placed = new Set<string>();
  const given = new Set(paths);
  for (const path of paths) {
    const live = rotated(path)?.live ?? path;
    const members = series.get(live);
    if (!members) {
      groups.push([path]);
      continue;
    }
    if (placed.has(live)) continue;
    placed.add(live);
    const byStamp = new Map<string, Rotated>();
    for (const member of members) {
      const held = byStamp.get(member.stamp);
      if (!held || (held.compressed && !member.compressed)) byStamp.set(member.stamp, member);
    }
    const ordered = [...byStamp.values()].sort((a, b) => (a.stamp < b.stamp ? -1 : 1)).map((m) => m.path);
    groups.push(given.has(live) ? [...ordered, live] : ordered);
  }
  return groups;
}
