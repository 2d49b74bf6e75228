/** Bytes of one staging chunk: a saturated sidecar's 5 ms batch of request lines fits in one. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** Chunks kept for reuse once written: enough for a batch in flight and the next one filling. */
const SPARE_CHUNKS = 2;
const NEWLINE = 0x0a;

/** Bytes of a staging chunk ready to be written, from its start to `end`. */
export interface FilledChunk {
  readonly chunk: Buffer;
  readonly end: number;
}

/**
 * Log lines written as UTF-8 straight into reusable staging chunks, one line at a time: a
 * serializer appends a line's fields here instead of building a string that is joined with the
 * rest of the batch and copied into a buffer afterwards (three copies of every line, and the
 * garbage of each, on every request). A line is appended whole or not at all: `line()` drops
 * what a failing serializer wrote. Before each write the serializer asks for room (`room`); a
 * chunk that cannot hold the line is handed over filled up to the line, and the line goes on in a
 * new chunk (a larger one for a line longer than a chunk).
 */
export class LineWriter {
  private chunk: Buffer;
  private pos = 0;
  private lineStart = 0;
  private readonly filled: FilledChunk[] = [];
  private readonly spare: Buffer[] = [];
  private pendingBytes = 0;
  private readonly chunkBytes: number;

  constructor(chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.chunkBytes = chunkBytes;
    this.chunk = Buffer.allocUnsafeSlow(chunkBytes);
  }

  /** Bytes of complete lines not yet taken. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Appends one line (the newline is added): `fill` writes its bytes through this writer. If it
   * throws, nothing of the line stays and the error goes on to the caller. Answers the line's
   * length in bytes, the newline included.
   */
  line(fill: (writer: LineWriter) => void): number {
    this.lineStart = this.pos;
    try {
      fill(this);
    } catch (error) {
      this.pos = this.lineStart;
      throw error;
    }
    this.room(1);
    this.chunk[this.pos++] = NEWLINE;
    const bytes = this.pos - this.lineStart;
    this.lineStart = this.pos;
    this.pendingBytes += bytes;
    return bytes;
  }

  /** Makes sure the next `bytes` bytes fit in the current chunk. */
  room(bytes: number): void {
    if (this.pos + bytes <= this.chunk.length) return;
    const partial = this.pos - this.lineStart;
    const next = this.newChunk(partial + bytes);
    this.chunk.copy(next, 0, this.lineStart, this.pos);
    if (this.lineStart > 0) this.filled.push({ chunk: this.chunk, end: this.lineStart });
    else this.recycle(this.chunk);
    this.chunk = next;
    this.lineStart = 0;
    this.pos = partial;
  }

  /** Appends bytes known in advance (a field's name, punctuation). */
  bytes(value: Uint8Array): void {
    this.room(value.length);
    this.chunk.set(value, this.pos);
    this.pos += value.length;
  }

  /** Appends a string as UTF-8. */
  utf8(value: string): void {
    this.room(value.length * 3);
    this.pos += this.chunk.write(value, this.pos, 'utf8');
  }

  /** Appends a string of ASCII characters only (numbers, known words). */
  ascii(value: string): void {
    this.room(value.length);
    this.pos += this.chunk.write(value, this.pos, 'latin1');
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.room(1);
    this.chunk[this.pos++] = value;
  }

  /**
   * Hands over every complete line written so far, in order, as filled chunks; their memory
   * belongs to the caller until it gives each chunk back (`release`) once written.
   */
  take(): FilledChunk[] {
    if (this.lineStart > 0) {
      this.filled.push({ chunk: this.chunk, end: this.lineStart });
      // take() is never called while a line is being written: the current chunk holds whole lines only.
      this.chunk = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes);
      this.pos = 0;
      this.lineStart = 0;
    }
    const taken = this.filled.splice(0);
    this.pendingBytes = 0;
    return taken;
  }

  /** Gives a written chunk back for reuse. */
  release(chunk: Buffer): void {
    this.recycle(chunk);
  }

  private recycle(chunk: Buffer): void {
    if (chunk.length === this.chunkBytes && this.spare.length < SPARE_CHUNKS) this.spare.push(chunk);
  }

  private newChunk(atLeast: number): Buffer {
    if (atLeast > this.chunkBytes) return Buffer.allocUnsafeSlow(atLeast);
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes);
  }
}
