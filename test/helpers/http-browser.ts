import { type Dispatcher, request } from 'undici';

/** One response as a browser-like client saw it. */
export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request as the test browser sends it. */
interface BrowserRequest {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** True when a cookie set for `cookiePath` is sent with a request for `requestPath` (RFC 6265 5.1.4). */
function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (cookiePath === requestPath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/**
 * A minimal browser for HTTP-level sign-in tests: a cookie jar per host (ports shared, as in
 * browsers) that sends a cookie only under its Path, manual redirects, and form posts. A cookie
 * is known by its name (a second Path for the same name replaces the first; deleting needs the
 * Path it was set with). Not a real browser
 * (see the Chromium e2e test).
 */
export class HttpBrowser {
  readonly jar = new Map<string, Map<string, string>>();
  private readonly paths = new Map<string, string>();
  accept = 'text/html,application/xhtml+xml';

  private readonly dispatcher: Dispatcher | undefined;

  /** `dispatcher`: how requests reach their origin (one that trusts a test ingress's certificate). */
  constructor(dispatcher?: Dispatcher) {
    this.dispatcher = dispatcher;
  }

  /** The Cookie header a browser sends with a request for url. */
  cookieHeader(url: string): string {
    const { hostname, pathname } = new URL(url);
    return [...this.cookies(url)]
      .filter(([name]) => pathMatches(this.paths.get(`${hostname} ${name}`) ?? '/', pathname))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
  }

  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname;
    let cookies = this.jar.get(host);
    if (!cookies) {
      cookies = new Map();
      this.jar.set(host, cookies);
    }
    return cookies;
  }

  private store(url: string, setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    const cookies = this.cookies(url);
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      const path = attrs.map((a) => /^\s*path=(\S*)\s*$/i.exec(a)?.[1]).find((p) => p !== undefined);
      const key = `${new URL(url).hostname} ${name}`;
      if (!expired) {
        cookies.set(name, value);
        this.paths.set(key, path || '/');
      } else if ((this.paths.get(key) ?? '/') === (path || '/')) cookies.delete(name);
    }
  }

  /** One request, no redirect following; cookies sent and stored. */
  async fetch(url: string, init: BrowserRequest = {}): Promise<Page> {
    const cookies = this.cookieHeader(url);
    const res = await request(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: { accept: this.accept, ...(cookies ? { cookie: cookies } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const body = await res.body.text();
    this.store(url, res.headers['set-cookie']);
    return { url, status: res.statusCode, headers: res.headers, body };
  }

  /** Follows redirects from url (at most 15), stopping before a URL `stopBefore` picks; returns every page in order. */
  async follow(
    url: string,
    init: BrowserRequest = {},
    stopBefore?: (url: string) => boolean,
  ): Promise<Page[]> {
    const pages: Page[] = [];
    let next: string | undefined = url;
    let options = init;
    for (let i = 0; i < 15 && next !== undefined && !stopBefore?.(next); i++) {
      const page = await this.fetch(next, options);
      pages.push(page);
      const location = page.headers.location;
      next =
        page.status >= 300 && page.status < 400 && typeof location === 'string'
          ? new URL(location, next).href
          : undefined;
      options = {};
    }
    return pages;
  }
}

/** Submits the first form of a page with the given fields plus its hidden inputs. */
export async function submitForm(
  browser: HttpBrowser,
  page: Page,
  fields: Record<string, string>,
  stopBefore?: (url: string) => boolean,
): Promise<Page[]> {
  const action = /<form[^>]*action="([^"]*)"/.exec(page.body)?.[1];
  if (!action) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 200)}`);
  const hidden: Record<string, string> = {};
  for (const m of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
    hidden[m[1] as string] = m[2] as string;
  const body = new URLSearchParams({ ...hidden, ...fields }).toString();
  const first = await browser.fetch(new URL(action.replaceAll('&amp;', '&'), page.url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const location = first.headers.location;
  if (typeof location !== 'string') return [first];
  return [first, ...(await browser.follow(new URL(location, page.url).href, {}, stopBefore))];
}

/**
 * Signs in through the development provider's login form: requests `url` on the sidecar, follows
 * to the provider, submits the login, follows back. Returns every page after the form post.
 */
export async function signInWithDevProvider(
  browser: HttpBrowser,
  url: string,
  login: string,
): Promise<Page[]> {
  const pages = await browser.follow(url);
  const form = pages.at(-1) as Page;
  if (!form.body.includes('name="login"'))
    throw new Error(`expected the provider login form at ${form.url} (${form.status})`);
  return submitForm(browser, form, { login, password: 'any' });
}
