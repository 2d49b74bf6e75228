import { readFile } from 'node:fs';
import { isLoopbackHost } from '../../../lib/net/client-ip.ts';
import { isLoopbackAddress, listeningAddresses } from '../../../lib/net/listening-sockets.ts';

/**
 * Whether the application behind the sidecar also listens beyond loopback. The sidecar reaches it
 * on 127.0.0.1, but an application bound to every address (`0.0.0.0`, `::`, as most servers bind
 * by default) is reached at the pod's address too, past the sidecar, by any pod of the cluster,
 * with any identity headers it likes. The sidecar shares the pod's network namespace, so it reads
 * the pod's listening sockets (/proc/net/tcp and tcp6): before the application is first seen
 * listening every UNTIL_SEEN_MS (a native sidecar starts before it), then every AFTER_MS. Nothing
 * is watched for an upstream that is not on loopback, or where /proc/net cannot be read.
 */
export const UNTIL_SEEN_MS = 5_000;
export const AFTER_MS = 60_000;

/** The application's port when the upstream origin is on loopback; undefined for any other. */
export function loopbackPortOf(origin: string): number | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (!isLoopbackHost(url.hostname)) return undefined;
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** A file's text, read off the event loop (node:fs/promises would load modules the sidecar has no other use for). */
function readText(path: string): Promise<string> {
  return new Promise((resolve, reject) =>
    readFile(path, 'latin1', (error, text) => (error ? reject(error) : resolve(text))),
  );
}

/** The text of /proc/net/tcp and /proc/net/tcp6 (an IPv4-only pod has no tcp6: empty). */
async function readProcNet(): Promise<[string, string]> {
  const tcp = await readText('/proc/net/tcp');
  const tcp6 = await readText('/proc/net/tcp6').catch(() => '');
  return [tcp, tcp6];
}

export interface ApplicationPortOptions {
  /** The upstream origin in force (it follows the config); undefined before the first. */
  readonly origin: () => string | undefined;
  /** The application listens beyond loopback on these addresses (each new set once). */
  readonly onOpen: (port: number, addresses: readonly string[]) => void;
  /** Called once, when the application is first seen listening: whether it is open, from then on. */
  readonly onKnown: (open: () => boolean) => void;
  readonly read?: () => Promise<[string, string]>;
  readonly untilSeenMs?: number;
  readonly afterMs?: number;
}

/** Starts watching; stop() ends it. */
export function watchApplicationPort(options: ApplicationPortOptions): { stop(): void } {
  const read = options.read ?? readProcNet;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let known = false;
  let open = false;
  let logged: string | undefined;
  const next = (ms: number) => {
    if (!stopped) timer = setTimeout(check, ms).unref();
  };
  const check = async (): Promise<void> => {
    const origin = options.origin();
    const port = origin === undefined ? undefined : loopbackPortOf(origin);
    if (port === undefined) return next(options.afterMs ?? AFTER_MS);
    let texts: [string, string];
    try {
      texts = await read();
    } catch {
      return; // not Linux, or no /proc: nothing to watch
    }
    const addresses = listeningAddresses(port, ...texts);
    if (addresses.length === 0)
      return next(known ? (options.afterMs ?? AFTER_MS) : (options.untilSeenMs ?? UNTIL_SEEN_MS));
    const beyond = addresses.filter((a) => !isLoopbackAddress(a));
    open = beyond.length > 0;
    if (!known) {
      known = true;
      options.onKnown(() => open);
    }
    const key = `${port} ${beyond.join(' ')}`;
    if (open && key !== logged) options.onOpen(port, beyond);
    logged = open ? key : undefined;
    next(options.afterMs ?? AFTER_MS);
  };
  timer = setTimeout(check, 0).unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
