/**
 * The framing of a container runtime's log files (`/var/log/containers`, `/var/log/pods`): each
 * record is `<RFC 3339 time> <stream> <tag> <text>`, where the tag is `F` for the end of a line
 * and `P` for a part of one that goes on in the next record of the same stream. Runtimes write
 * parts: containerd each 16 KiB of a longer line (`max_container_log_line_size`), CRI-O whatever
 * of a line crossed the end of one read from the container's pipe (8 KiB reads), so a log
 * written in batches has a split line in about every 8 KiB. The kubelet joins the parts again
 * when it serves `kubectl logs`; a reader of the files must do the same, or it loses those lines.
 */

/** A record's prefix: its time, its stream and its tag. */
const CRI_RECORD = /^\d{4}-\d\d-\d\dT\S+ (stdout|stderr) ([PF]) /;

const NEWLINE = 0x0a;
const SPACE = 0x20;
/** The longest time a runtime writes: `2026-11-21T07:00:00.123456789+01:00`. */
const LONGEST_TIME = 35;

/**
 * Finds the records of parts in a chunk of a runtime's log, line by line from a line's start:
 * a record's tag is a fixed distance after its time (`<time> stdout P `), so each line costs a
 * look at its first bytes, where searching for ` stdout P ` stopped at every line's ` stdout `.
 * Returns the offset of the next such line at or after from (a line's start), or -1. What it
 * finds is checked again by criRecord when the line is read.
 */
export function partialRecordFinder(buffer: Buffer, tail: number): (from: number) => number {
  let found = -2; // -2: not looked for yet; -1: none left in the chunk
  let checked = 0; // lines before this offset are checked
  return (from) => {
    if (found >= from || (found === -1 && from <= checked)) return found;
    let start = Math.max(from, checked);
    found = -1;
    while (start < tail) {
      const first = buffer[start] as number;
      if (first >= 0x30 && first <= 0x39) {
        const limit = Math.min(start + LONGEST_TIME + 1, tail);
        let space = start;
        while (space < limit && buffer[space] !== SPACE) space++;
        // `<time> stdout P ` or `<time> stderr P `: the stream's name is 6 letters.
        if (
          buffer[space + 1] === 0x73 &&
          buffer[space + 7] === SPACE &&
          buffer[space + 8] === 0x50 &&
          buffer[space + 9] === SPACE
        ) {
          found = start;
          break;
        }
      }
      const end = buffer.indexOf(NEWLINE, start);
      start = end === -1 || end >= tail ? tail : end + 1;
    }
    checked = found === -1 ? tail : found;
    return found;
  };
}

/** The framing of one record, or undefined when the line is not a runtime's record. */
export function criRecord(line: string): { stream: string; partial: boolean; textStart: number } | undefined {
  const first = line.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return undefined; // a record begins with its year
  const match = CRI_RECORD.exec(line);
  if (!match) return undefined;
  return { stream: match[1] as string, partial: match[2] === 'P', textStart: match[0].length };
}

interface OpenLine {
  /** The first part's prefix, with its tag made `F`. */
  readonly prefix: string;
  readonly parts: string[];
  length: number;
  /** Past the longest line read: its parts are dropped, and the line counted once it ends. */
  tooLong: boolean;
}

export interface CriJoiner {
  /** Takes the next line of a file; whole lines (joined ones, and any line not a part) go on. */
  line(text: string): void;
  /** The file ended: a line whose last part never came goes on as it is (it is cut). */
  end(): void;
  /** True while a stream's line is open (its parts read, its end not yet). */
  readonly open: boolean;
  /** True once a runtime's record was read. */
  readonly framed: boolean;
}

/**
 * Joins the parts of runtime records into the lines the container wrote, per stream, as the
 * kubelet does; a joined line goes on as one record (the first part's time, tag `F`), marked
 * joined. Lines that are not runtime records pass through. A line longer than maxChars goes to
 * onTooLong instead.
 */
export function createCriJoiner(
  onLine: (line: string, joined: boolean) => void,
  maxChars: number,
  onTooLong: () => void,
): CriJoiner {
  const open = new Map<string, OpenLine>();
  let framed = false;
  const finish = (stream: string, last: string): void => {
    const pending = open.get(stream) as OpenLine;
    open.delete(stream);
    if (pending.tooLong || pending.length + last.length > maxChars) onTooLong();
    else onLine(pending.prefix + pending.parts.join('') + last, true);
  };
  return {
    get open() {
      return open.size > 0;
    },
    get framed() {
      return framed;
    },
    line(text) {
      const record = criRecord(text);
      if (!record) {
        onLine(text, false);
        return;
      }
      framed = true;
      const pending = open.get(record.stream);
      if (!record.partial) {
        if (pending) finish(record.stream, text.slice(record.textStart));
        else onLine(text, false);
        return;
      }
      const part = text.slice(record.textStart);
      if (!pending) {
        const prefix = `${text.slice(0, record.textStart - 2)}F `;
        open.set(record.stream, {
          prefix,
          parts: [part],
          length: part.length,
          tooLong: part.length > maxChars,
        });
        return;
      }
      if (pending.tooLong) return;
      pending.length += part.length;
      if (pending.length > maxChars) {
        pending.tooLong = true;
        pending.parts.length = 0;
      } else pending.parts.push(part);
    },
    end() {
      for (const stream of [...open.keys()]) finish(stream, '');
    },
  };
}
