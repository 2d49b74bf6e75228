/**
 * The part of undici the sidecar runs on: its connection pool and agent with the request API,
 * without the rest of the package. `import ... from 'undici'` evaluates everything (fetch,
 * WebSocket, EventSource, the HTTP cache, mocks): 1.3 MB of the sidecar's 2.5 MB of code, parsed
 * and run at every start in every pod. These are the same classes the package exports (its own
 * modules, by path; undici declares no export map), so types come from the package. A command
 * that needs fetch imports 'undici' itself, when it needs it.
 */
import type { Agent as AgentClass, Dispatcher, Pool as PoolClass } from 'undici';
import requestApi from 'undici/lib/api/index.js';
import buildConnectorImplementation from 'undici/lib/core/connect.js';
import AgentImplementation from 'undici/lib/dispatcher/agent.js';
import DispatcherImplementation from 'undici/lib/dispatcher/dispatcher.js';
import PoolImplementation from 'undici/lib/dispatcher/pool.js';

// What undici's index does: request, stream, pipeline, upgrade and connect on every dispatcher.
Object.assign(DispatcherImplementation.prototype, requestApi);

export const Agent: typeof AgentClass = AgentImplementation;
export type Agent = AgentClass;
export const Pool: typeof PoolClass = PoolImplementation;
export type Pool = PoolClass;
/** undici's connector (what a Pool opens its connections with), to wrap one. */
export const buildConnector = buildConnectorImplementation;

/** undici's top-level `request(url, options)`, on a given dispatcher. */
export function requestOn(
  dispatcher: Dispatcher,
  url: URL,
  options: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod },
): Promise<Dispatcher.ResponseData> {
  return dispatcher.request({
    ...options,
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: options.method ?? 'GET',
  });
}
