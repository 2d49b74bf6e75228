import { connect } from 'node:net';

/** Sends raw bytes to a loopback port and returns everything received until the peer closes (or timeout). */
export function rawRequest(port: number, payload: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(payload);
  });
}

/**
 * Sends raw bytes in `pieces` writes 5 ms apart (the server reads each on its own), and returns
 * everything received until the peer closes (or timeout). Writes after the peer answered are dropped.
 */
export async function rawRequestInPieces(
  port: number,
  payload: Buffer,
  pieces: number,
  timeoutMs = 3000,
): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    setTimeout(resolve, timeoutMs).unref();
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const size = Math.ceil(payload.length / pieces);
  for (let at = 0; at < payload.length && socket.writable; at += size) {
    socket.write(payload.subarray(at, at + size));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await closed;
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

/** Status code of the first response in a raw HTTP answer; 0 when there was none. */
export function statusOf(response: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return m ? Number(m[1]) : 0;
}
