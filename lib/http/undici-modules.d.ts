// undici's own modules, imported by path in lib/http/undici-core.ts and undici-proxy.ts; their types are the package's.
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';

  const implementation: typeof Agent;
  export default implementation;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const implementation: typeof Pool;
  export default implementation;
}
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';

  const implementation: typeof Dispatcher;
  export default implementation;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect', (...args: never[]) => unknown>;
  export default api;
}
declare module 'undici/lib/core/connect.js' {
  import type { buildConnector } from 'undici';

  const implementation: typeof buildConnector;
  export default implementation;
}
declare module 'undici/lib/dispatcher/proxy-agent.js' {
  import type { ProxyAgent } from 'undici';

  const implementation: typeof ProxyAgent;
  export default implementation;
}
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import type { EnvHttpProxyAgent } from 'undici';

  const implementation: typeof EnvHttpProxyAgent;
  export default implementation;
}
