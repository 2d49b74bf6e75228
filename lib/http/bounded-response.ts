/**
 * A fetch Response whose body is cut at a byte bound. The answers of an identity provider
 * (discovery, keys, tokens, userinfo) are read whole by the libraries that take them, so an
 * answer without end (a broken provider, an issuer URL that names a file server or a stream)
 * took the sidecar's memory up to gigabytes within the call's timeout, past any container limit.
 */

/** Why an answer was not read: more bytes than the bound (a stable code, and what was asked). */
export class ResponseTooLarge extends Error {
  readonly code = 'response_too_large';
  constructor(url: string, maxBytes: number) {
    super(`the answer of ${new URL(url).origin} is over ${maxBytes} bytes (cut there)`);
    this.name = 'ResponseTooLarge';
  }
}

/** Statuses whose Response may carry no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The same answer, its body cut with ResponseTooLarge past `maxBytes` (at once when its
 * Content-Length says so), so that whatever reads it fails instead of buffering it all; the
 * connection is let go as the body is cancelled.
 */
export function boundedResponse(response: Response, url: string, maxBytes: number): Response {
  const body = response.body;
  if (body === null || NULL_BODY.has(response.status)) return response;
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    void body.cancel().catch(() => undefined);
    throw new ResponseTooLarge(url, maxBytes);
  }
  let seen = 0;
  const cut = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) controller.error(new ResponseTooLarge(url, maxBytes));
      else controller.enqueue(chunk);
    },
  });
  return new Response(body.pipeThrough(cut), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
