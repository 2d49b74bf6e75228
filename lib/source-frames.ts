import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack frames placed in the source. What ships is minified (scripts/bundle-settings.ts): a frame
 * of the bundle reads `chunk-X.js:1:48213`, which says nothing to the reader of a defect's log
 * line. Each chunk has its source map beside it (`.js.map`, in the image too), and this reads it
 * to write `sidecar/src/server.ts:277:5` instead. For the few frames of a report once, as the
 * process ends: a source map of the sidecar's largest chunk is about 1 MB, parsed here and never
 * kept. A frame without a map (Node.js's own, a module not bundled) or that the map does not
 * place stays as it was.
 */

/** A frame's location: a `file:` URL or an absolute path of a `.js` or `.mjs` file, line, column. */
const LOCATION = /((?:file:\/\/)?\/[^\s()]+?\.m?js):(\d+):(\d+)/;

/** Source paths as esbuild writes them, relative to the map (`../../../sidecar/src/x.ts`). */
const UP = /^(?:\.\.\/)+/;

/**
 * The frames (`at name (location)` lines) with each location that a source map beside its file
 * places written as the source's path, line and column.
 */
export function framesInSource(frames: readonly string[]): string[] {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (file: string): SourceMap | null => {
    let map = maps.get(file);
    if (map === undefined) {
      map = null;
      try {
        const path = `${file.startsWith('file:') ? fileURLToPath(file) : file}.map`;
        map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')));
      } catch {
        // none, unreadable or not a source map: the frame stays as it is
      }
      maps.set(file, map);
    }
    return map;
  };
  return frames.map((frame) => {
    const found = LOCATION.exec(frame);
    if (!found) return frame;
    const [location, file, line, column] = found as unknown as [string, string, string, string];
    const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
    // findEntry answers with the nearest mapping before the location, even from another line.
    if (!entry || !('originalSource' in entry) || entry.generatedLine !== Number(line) - 1) return frame;
    const source = entry.originalSource.replace(UP, '');
    return frame.replace(location, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
  });
}
