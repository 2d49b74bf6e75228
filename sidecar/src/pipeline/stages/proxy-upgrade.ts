import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { HttpError } from '../../errors.ts';
import { sendRawError } from '../../http/error-response.ts';
import { admits, type Decision } from '../../policy/decision.ts';
import type { RuntimeState } from '../../runtime-state.ts';
import { upstreamHttpError } from '../../upstream/upstream-errors.ts';
import type { RequestScope } from '../scope.ts';
import { responseHeaders } from './proxy.ts';

/** Why an open tunnel was closed by a new config. */
export type TunnelClosure =
  | { readonly reason: 'policy_changed'; readonly decision: Decision }
  | { readonly reason: 'session_revoked'; readonly revocation: string };

/** Open upgraded connections, so shutdown and policy changes can find and close them. */
export interface UpgradeRegistry {
  add(scope: RequestScope, close: () => void): void;
  delete(scope: RequestScope): void;
  readonly size: number;
  closeAll(): void;
  /**
   * Re-evaluates every open tunnel against a new config: closes those whose session a revocation
   * ended, and those the policies would now deny, calling `closed` for each first.
   */
  recheck(state: RuntimeState, closed: (scope: RequestScope, why: TunnelClosure) => void): void;
}

/** A registry of open WebSocket tunnels. */
export function createUpgradeRegistry(): UpgradeRegistry {
  const open = new Map<RequestScope, () => void>();
  return {
    add: (scope, close) => void open.set(scope, close),
    delete: (scope) => void open.delete(scope),
    get size() {
      return open.size;
    },
    closeAll() {
      for (const close of [...open.values()]) close();
    },
    recheck(state, closed) {
      for (const [scope, close] of [...open]) {
        const identity = scope.identity;
        const revocation =
          scope.sessionIssuedAt === null || identity === null
            ? undefined
            : state.revocations.find({
                email: identity.email,
                sub: identity.sub,
                idp: identity.idp ?? '',
                iat: scope.sessionIssuedAt,
              });
        if (revocation) {
          scope.errorCode = 'session_revoked';
          closed(scope, { reason: 'session_revoked', revocation: revocation.name });
          close();
          continue;
        }
        if (scope.policyInput === null) continue;
        const { decision } = state.policy.evaluate(scope.policyInput);
        if (admits(decision)) continue;
        scope.errorCode = 'policy_changed';
        closed(scope, { reason: 'policy_changed', decision });
        close();
      }
    },
  };
}

/**
 * Proxies a WebSocket upgrade: asks the upstream for the same upgrade, relays its 101 with the
 * request id, then splices both sockets until either side closes. Resolves when the tunnel ends.
 */
export function proxyUpgrade(
  scope: RequestScope,
  client: Duplex,
  head: Buffer,
  registry: UpgradeRegistry,
): Promise<void> {
  const { req, state } = scope;
  const idHeader = state.config.requestId.header;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      registry.delete(scope);
      resolve();
    };
    const refuse = (error: HttpError): void => {
      scope.status = error.status;
      scope.errorCode = error.code;
      scope.outcome = error.code === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_error';
      sendRawError(client as never, error, scope.requestId, idHeader, req.headers.accept);
      finish();
    };
    client.once('close', () => {
      if (scope.status === 0) {
        scope.status = 499;
        scope.outcome = 'client_abort';
      }
    });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onRequestUpgrade(_c, statusCode, headers, upstream) {
        scope.upstreamMs = Number(process.hrtime.bigint() - scope.upstreamStartNs) / 1e6;
        scope.status = statusCode;
        scope.outcome = 'upgraded';
        if (client.destroyed) {
          upstream.destroy();
          finish();
          return;
        }
        const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', 'upgrade: websocket'];
        const out = responseHeaders(headers as IncomingHttpHeaders, idHeader, scope.requestId);
        for (let i = 0; i < out.length; i += 2) lines.push(`${out[i]}: ${out[i + 1]}`);
        client.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length > 0) upstream.write(head);
        const close = (): void => {
          client.destroy();
          upstream.destroy();
        };
        registry.add(scope, close);
        upstream.on('error', close);
        client.on('error', close);
        upstream.once('close', () => {
          client.end();
          setTimeout(() => client.destroy(), 1000).unref();
        });
        client.once('close', () => {
          upstream.destroy();
          finish();
        });
        upstream.pipe(client);
        client.pipe(upstream);
      },
      onResponseStart(c, statusCode) {
        // The upstream answered without upgrading (e.g. 403, 404): relay as an error page.
        c.abort(
          new HttpError(
            'upstream_error',
            statusCode >= 400 && statusCode < 600 ? statusCode : 502,
            'The application refused the WebSocket upgrade.',
          ),
        );
      },
      onResponseData() {},
      onResponseEnd() {},
      onResponseError(_c, error) {
        if (error instanceof HttpError) refuse(error);
        else refuse(upstreamHttpError(error));
      },
    };

    scope.upstreamStartNs = process.hrtime.bigint();
    try {
      state.upstream.pool.dispatch(
        {
          path: scope.query ? `${scope.path}?${scope.query}` : scope.path,
          method: 'GET',
          headers: scope.upstreamHeaders,
          upgrade: 'websocket',
        },
        handler,
      );
    } catch (error) {
      refuse(upstreamHttpError(error));
    }
  });
}
