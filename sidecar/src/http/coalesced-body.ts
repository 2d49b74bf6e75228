import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback, type Writable } from 'node:stream';

/** Bytes held at most before they go on, however the chunks came. */
export const COALESCE_MAX_BYTES = 64 * 1024;
/** Chunks from this size on go on as they are: their per-chunk cost is small beside their bytes. */
export const COALESCE_BELOW_BYTES = 4 * 1024;

/** The body length a head declares (`Content-Length`), or -1 when it declares none. */
export function declaredLength(headers: IncomingHttpHeaders): number {
  const length = headers['content-length'];
  return length === undefined ? -1 : Number(length);
}

/** Small chunks held to go on as one. */
class HeldChunks {
  #chunks: Buffer[] = [];
  bytes = 0;

  add(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** What is held, as one buffer (undefined when nothing is), and holds nothing after. */
  take(): Buffer | undefined {
    if (this.bytes === 0) return undefined;
    const chunks = this.#chunks;
    const out = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.bytes);
    this.#chunks = [];
    this.bytes = 0;
    return out;
  }
}

/**
 * A request body on its way to the application, its small chunks joined per turn of the event
 * loop. Node.js hands on each chunk of a chunked body as it parses it, and undici writes each one
 * to the application as a chunk of its own (a `writev` each): a client sending its body in
 * 1-byte chunks made the sidecar write 51,372 times to the application for 200,000 bytes, and made
 * the application parse 200,000 chunks. Small chunks (under COALESCE_BELOW_BYTES) that come in the
 * same turn of the event loop (the reads of the client's socket it handled) now go on as one, at
 * the end of that turn or past COALESCE_MAX_BYTES; a chunk that comes alone goes on at the end of
 * its turn. Larger chunks go on as they come (joining them cost a fifth more CPU and 40 to 60 MB
 * more at the peak of 200 MB uploads in 16 KiB chunks).
 * Back-pressure holds: past the readable side's high-water mark and one batch, the next chunk is
 * taken only once the application reads.
 */
export class CoalescedBody extends Transform {
  readonly #held = new HeldChunks();
  #scheduled = false;
  /** The writer's callback, held while the application is behind. */
  #waiting: TransformCallback | undefined;
  /** The reader asked for more since the last push. */
  #readAsked = false;
  /** The body's declared length (-1: chunked), and the bytes taken so far. */
  readonly #declared: number;
  #taken = 0;

  constructor(declaredLength = -1) {
    super();
    this.#declared = declaredLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length >= COALESCE_BELOW_BYTES) {
      // Large enough to go on as it is (joining it would only copy it): after what is held.
      this.#taken += chunk.length;
      this.#release();
      this.#readAsked = false;
      callback(null, chunk);
      return;
    }
    this.#held.add(chunk);
    this.#taken += chunk.length;
    // The last bytes of a body of declared length go on at once (a small form, for nothing).
    if (this.#held.bytes >= COALESCE_MAX_BYTES || this.#taken === this.#declared) this.#release();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      // Not a microtask nor nextTick: Node.js runs both after each chunk its parser hands on.
      setImmediate(() => {
        this.#scheduled = false;
        this.#release();
      });
    }
    // The Transform holds the next chunk back only when this one was pushed at once; what is
    // held here or was pushed later counts too, or a client could upload faster than the
    // application reads into memory without end (45 MB in 3 s of 16 KiB chunks). Held only when
    // the reader has not asked since the last push: it asks again once it wants more.
    if (
      !this.#readAsked &&
      this.readableLength + this.#held.bytes >= this.readableHighWaterMark + COALESCE_MAX_BYTES
    )
      this.#waiting = callback;
    else callback();
  }

  override _read(size: number): void {
    // Asked until the next push (as the Readable's own `reading`): a chunk transformed meanwhile
    // goes on. The writer's callback first: the Transform may hold the next one itself, which
    // its own _read then lets go.
    this.#readAsked = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    this.#release();
    callback();
  }

  #release(): void {
    if (this.destroyed) return;
    const out = this.#held.take();
    if (out === undefined) return;
    this.#readAsked = false;
    this.push(out);
  }
}

/**
 * A response body on its way to the client, its small chunks joined per read of the application's
 * socket, as CoalescedBody joins a request's per turn: Node.js frames and writes each chunk of a
 * response on its own, so an application answering in 1-byte chunks cost the sidecar 300 ms of
 * CPU per 200,000 of them (60 ms joined). Chunks from COALESCE_BELOW_BYTES on go out as they come, after what is held.
 * `behind` is called when the client's side is full (the caller pauses the application); what is
 * held stays under COALESCE_MAX_BYTES meanwhile.
 */
export class CoalescedWrites {
  readonly #out: Writable;
  readonly #behind: () => void;
  readonly #held = new HeldChunks();
  #scheduled = false;

  constructor(out: Writable, behind: () => void) {
    this.#out = out;
    this.#behind = behind;
  }

  write(chunk: Buffer): void {
    if (chunk.length >= COALESCE_BELOW_BYTES) {
      this.flush();
      this.#send(chunk);
      return;
    }
    this.#held.add(chunk);
    if (this.#held.bytes >= COALESCE_MAX_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      // A microtask: undici parses a read of the application's socket in JavaScript and hands
      // on its chunks in one go, then the microtasks run (cheaper than an immediate, which every
      // small response would schedule).
      queueMicrotask(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes what is held now (before the end of the response). */
  flush(): void {
    const out = this.#held.take();
    if (out !== undefined) this.#send(out);
  }

  #send(chunk: Buffer): void {
    if (this.#out.destroyed || this.#out.writableEnded) return;
    if (!this.#out.write(chunk)) this.#behind();
  }
}
