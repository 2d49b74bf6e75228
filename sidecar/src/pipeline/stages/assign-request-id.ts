import { newRequestId } from '../../http/random-ids.ts';
import type { RequestScope } from '../../request-scope.ts';

const WELL_FORMED_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** Takes the request id from a trusted proxy when well-formed, otherwise generates a fresh UUID. */
export function assignRequestId(scope: RequestScope): undefined {
  const { requestId } = scope.state.config;
  if (requestId.trustIncoming && scope.peerTrusted) {
    const raw = scope.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).toLowerCase() === requestId.header) {
        const value = raw[i + 1] as string;
        if (WELL_FORMED_ID.test(value)) {
          scope.requestId = value;
          return undefined;
        }
        break;
      }
    }
  }
  scope.requestId = newRequestId();
  return undefined;
}
