/**
 * undici's proxy agents, by path as lib/http/undici-core.ts loads its pool (the package's index
 * evaluates all of undici): for the commands that reach the Kubernetes API through a proxy.
 */
import type { EnvHttpProxyAgent as EnvHttpProxyAgentClass, ProxyAgent as ProxyAgentClass } from 'undici';
import EnvHttpProxyAgentImplementation from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import ProxyAgentImplementation from 'undici/lib/dispatcher/proxy-agent.js';
import './undici-core.ts'; // the request API on every dispatcher

export const ProxyAgent: typeof ProxyAgentClass = ProxyAgentImplementation;
export const EnvHttpProxyAgent: typeof EnvHttpProxyAgentClass = EnvHttpProxyAgentImplementation;
