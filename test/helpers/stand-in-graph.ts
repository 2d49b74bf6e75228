import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';

/** How the stand-in answers the next listings. */
export type GraphBehaviour =
  | { readonly kind: 'answer' }
  | { readonly kind: 'status'; readonly status: number; readonly code: string }
  /** Its next page named on another origin (where the token must not go). */
  | { readonly kind: 'next-elsewhere'; readonly elsewhere: string }
  /** A next page after every page, for ever. */
  | { readonly kind: 'endless' }
  /** The connection reset before any answer. */
  | { readonly kind: 'reset' }
  /** 200 with a body that is not JSON (a proxy's page). */
  | { readonly kind: 'not-json' }
  /** No answer at all: the request is held until its client lets it go. */
  | { readonly kind: 'silent' };

/** One request the stand-in saw. */
export interface GraphRequest {
  readonly url: string;
  /** The account the bearer token was issued to; null when the provider does not know it. */
  readonly account: string | null;
}

/**
 * Microsoft Graph's `/v1.0/me/transitiveMemberOf` on loopback, for one development provider: it
 * takes the provider's own access tokens (looked up in the provider, as Graph checks Entra's) and
 * lists the account's groups, `pageSize` a page with `@odata.nextLink` pages, a directory role
 * among them (a membership that is not a group).
 */
export interface StandInGraph {
  readonly origin: string;
  readonly requests: GraphRequest[];
  /** The groups of each account, by group id; display names are `name of <id>`. */
  readonly memberships: Map<string, readonly string[]>;
  /** When each request held unanswered (`silent`) was let go by its client (performance.now()). */
  readonly released: number[];
  behaviour: GraphBehaviour;
  /** The provider whose access tokens it takes (set once the provider runs). */
  trust(provider: Provider): void;
  close(): Promise<void>;
}

export async function startStandInGraph(pageSize = 100): Promise<StandInGraph> {
  let provider: Provider | undefined;
  const requests: GraphRequest[] = [];
  const memberships = new Map<string, readonly string[]>();
  const released: number[] = [];
  const graph: Partial<StandInGraph> & { behaviour: GraphBehaviour } = { behaviour: { kind: 'answer' } };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, origin: string) => {
    const url = new URL(req.url ?? '/', origin);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer && provider ? await provider.AccessToken.find(bearer) : undefined;
    const account = token?.accountId ?? null;
    requests.push({ url: url.href, account });
    if (url.pathname !== '/v1.0/me/transitiveMemberOf')
      return json(res, 404, { error: { code: 'Request_ResourceNotFound' } });
    if (account === null)
      return json(res, 401, {
        error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' },
      });
    const behaviour = graph.behaviour;
    if (behaviour.kind === 'reset') return req.socket.resetAndDestroy();
    if (behaviour.kind === 'silent') {
      res.on('close', () => released.push(performance.now()));
      return;
    }
    if (behaviour.kind === 'not-json') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html>Sign in to the proxy</html>');
    }
    if (behaviour.kind === 'status') return json(res, behaviour.status, { error: { code: behaviour.code } });
    const select = (url.searchParams.get('$select') ?? 'id').split(',');
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const groups = memberships.get(account) ?? [];
    const members: Record<string, unknown>[] = [
      {
        '@odata.type': '#microsoft.graph.directoryRole',
        id: 'role-global-reader',
        displayName: 'Global Reader',
      },
      ...groups.map((id) => ({ '@odata.type': '#microsoft.graph.group', id, displayName: `name of ${id}` })),
    ];
    const value = members
      .slice(skip, skip + pageSize)
      .map((m) =>
        Object.fromEntries(Object.entries(m).filter(([k]) => k === '@odata.type' || select.includes(k))),
      );
    const nextAt = skip + pageSize;
    const next =
      behaviour.kind === 'next-elsewhere'
        ? `${behaviour.elsewhere}/v1.0/me/transitiveMemberOf?$skiptoken=${nextAt}`
        : behaviour.kind === 'endless' || nextAt < members.length
          ? `${origin}/v1.0/me/transitiveMemberOf?$select=${select.join(',')}&$skiptoken=${nextAt}`
          : undefined;
    return json(res, 200, { value, ...(next ? { '@odata.nextLink': next } : {}) });
  };
  let origin = '';
  const server = createServer((req, res) => void handle(req, res, origin));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(graph, {
    origin,
    requests,
    memberships,
    released,
    trust(p: Provider) {
      provider = p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as StandInGraph;
}
