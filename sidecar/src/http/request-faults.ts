import type { RequestFault } from '../../../contract/error-causes.ts';
import { beginsWithProxyHeader } from '../../../lib/net/proxy-protocol.ts';

/** What the HTTP parser refused, by llhttp's error code (the reason text tells a few apart). */
const BY_CODE: ReadonlyMap<string, RequestFault> = new Map([
  ['HPE_INVALID_METHOD', 'invalid_request_line'],
  ['HPE_INVALID_URL', 'invalid_request_line'],
  ['HPE_INVALID_CONSTANT', 'invalid_request_line'],
  ['HPE_INVALID_VERSION', 'invalid_request_line'],
  ['HPE_LF_EXPECTED', 'invalid_line_ending'],
  ['HPE_CR_EXPECTED', 'invalid_line_ending'],
  ['HPE_INVALID_HEADER_TOKEN', 'invalid_header'],
  ['HPE_UNEXPECTED_SPACE', 'invalid_header'],
  ['HPE_UNEXPECTED_CONTENT_LENGTH', 'conflicting_length'],
  ['HPE_INVALID_CONTENT_LENGTH', 'invalid_length'],
  ['HPE_INVALID_TRANSFER_ENCODING', 'invalid_transfer_encoding'],
  ['HPE_INVALID_CHUNK_SIZE', 'invalid_chunk'],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 'invalid_chunk'],
] as const);

/** A TLS record carrying a handshake (content type 22, version 3.x): a ClientHello. */
function isTlsHandshake(bytes: Buffer | undefined): boolean {
  return bytes !== undefined && bytes.length >= 2 && bytes[0] === 0x16 && bytes[1] === 0x03;
}

/**
 * Why a request was malformed, from the parser's error: its code, its reason (llhttp's fixed
 * text, never the client's bytes) and the bytes it could not parse, when it has them.
 */
export function requestFaultOf(code: string, reason: string, unparsed?: Buffer): RequestFault {
  if (isTlsHandshake(unparsed)) return 'tls_to_plain_port';
  // A PROXY header reaches the parser only from a peer it is not read from (not in
  // spec.proxyProtocol.from).
  if (unparsed !== undefined && beginsWithProxyHeader(unparsed)) return 'proxy_header_unexpected';
  // llhttp stops at the HTTP/2 client connection preface (`PRI * HTTP/2.0`), which only a client
  // that speaks HTTP/2 with prior knowledge sends.
  if (code === 'HPE_PAUSED_H2_UPGRADE') return 'h2_to_http1_port';
  // A bare CR or LF is reported under the code of the place it was found in ("Expected CRLF
  // after version", "Missing expected LF after header value"): the reason says which it was.
  if (/\bCRLF\b|\bCR\b|\bLF\b/.test(reason)) return 'invalid_line_ending';
  if (code === 'HPE_INVALID_TRANSFER_ENCODING' && reason.includes('Content-Length'))
    return 'conflicting_length';
  return BY_CODE.get(code) ?? 'malformed';
}
