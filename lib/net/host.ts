/** Answers whether a normalised Host value belongs to the application. */
export type HostMatcher = (host: string) => boolean;

/**
 * Compiles host patterns (`app.example.com`, `app.example.com:8443`, `*.example.com`).
 * A pattern without a port matches any port; `*.` matches exactly one label.
 */
export function compileHostMatcher(patterns: readonly string[]): HostMatcher {
  const exact = new Set<string>();
  const exactAnyPort = new Set<string>();
  const wildcard: { suffix: string; port: string | undefined }[] = [];
  for (const p of patterns) {
    const [name = '', port] = splitPort(p);
    if (name.startsWith('*.')) wildcard.push({ suffix: name.slice(1), port });
    else if (port === undefined) exactAnyPort.add(name);
    else exact.add(p);
  }
  return (host) => {
    if (exact.has(host)) return true;
    const [name = '', port] = splitPort(host);
    if (exactAnyPort.has(name)) return true;
    for (const w of wildcard) {
      if ((w.port === undefined || w.port === port) && name.endsWith(w.suffix)) {
        const label = name.slice(0, name.length - w.suffix.length);
        if (label.length > 0 && !label.includes('.')) return true;
      }
    }
    return false;
  };
}

function splitPort(host: string): [string, string | undefined] {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === host.length - 1 ? [host, undefined] : [host.slice(0, end + 1), host.slice(end + 2)];
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? [host, undefined] : [host.slice(0, colon), host.slice(colon + 1)];
}

const HOST_PATTERN = /^(?:[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** Lower-cases and checks a Host header value; undefined when it is not a host[:port] (a port up to 65535). */
export function normaliseHost(value: string): string | undefined {
  const host = value.toLowerCase();
  if (!HOST_PATTERN.test(host)) return undefined;
  const colon = host.lastIndexOf(':');
  return colon === -1 || host.endsWith(']') || Number(host.slice(colon + 1)) <= 65_535 ? host : undefined;
}
