import { dial } from '../helpers/hostile.ts';
import type { Delivery } from './requests.ts';

/** What a raw client saw of one exchange. */
export interface Exchange {
  readonly statuses: number[];
  readonly requestIds: string[];
  readonly bytes: number;
}

const QUIET_MS = 40;
const MAX_MS = 1_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads response heads out of raw bytes: each status and each request id the sidecar returned. */
export function parseResponses(text: string): { statuses: number[]; requestIds: string[] } {
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  const requestIds = [...text.matchAll(/\r\nx-request-id: ([^\r\n]+)/gi)].map((m) => m[1] as string);
  return { statuses, requestIds };
}

/** Delivers one fuzz case over a raw socket and reports what came back. Never throws. */
export async function exchange(port: number, d: Delivery): Promise<Exchange> {
  const socket = await dial(port, d.from);
  if (!socket) return { statuses: [], requestIds: [], bytes: 0 };
  const chunks: Buffer[] = [];
  let lastData = 0;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    lastData = performance.now();
  });
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  let from = 0;
  for (const at of [...d.splits, d.bytes.length]) {
    if (closed) break;
    if (at > from) socket.write(d.bytes.subarray(from, at));
    from = Math.max(from, at);
    if (at < d.bytes.length && d.gapMs > 0) await sleep(d.gapMs);
  }
  if (d.ending === 'rst') {
    await sleep(d.rstAfterMs);
    socket.resetAndDestroy();
  } else {
    if (d.ending === 'fin') socket.end();
    const started = performance.now();
    while (!closed && performance.now() - started < MAX_MS) {
      await sleep(QUIET_MS / 2);
      if (lastData > 0 && performance.now() - lastData > QUIET_MS) break;
    }
    socket.destroy();
  }
  const text = Buffer.concat(chunks).toString('latin1');
  return { ...parseResponses(text), bytes: text.length };
}
