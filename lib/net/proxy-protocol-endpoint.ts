/**
 * The private endpoint a connection came through, from the extensions (TLVs) of a PROXY protocol
 * version 2 header: behind AWS PrivateLink, Azure Private Link or GCP Private Service Connect the
 * header's address is the client's in its own network, which another consumer may share; the
 * endpoint names the consumer. The extensions are read as the header's bytes arrive
 * (proxy-protocol-extensions.ts), keeping at most one value of MAX_ENDPOINT_VALUE bytes.
 *
 * The vendors' extensions:
 * - AWS (type 0xEA): subtype 0x01, then the VPC endpoint id as text (`vpce-0123456789abcdef0`).
 * - Azure (type 0xEE): subtype 0x01, then the private endpoint's LinkID, 4 bytes little-endian.
 * - GCP (type 0xE0): the Private Service Connect connection id, 8 bytes big-endian.
 *
 * Named as `aws:<endpoint id>`, `azure:<LinkID>` and `gcp:<connection id>` (decimal numbers), the
 * form the log and the `privateEndpoints` policy selector share. A malformed one, one cut short by
 * the header's end, and every other extension are passed over: the header stays valid, as before.
 */

const TYPE_AWS = 0xea;
const TYPE_AZURE = 0xee;
const TYPE_GCP = 0xe0;
const SUBTYPE_AWS_VPCE_ID = 0x01;
const SUBTYPE_AZURE_LINK_ID = 0x01;
/** The longest value kept; an AWS endpoint id is 22 bytes (`vpce-` and 17 hex digits). */
export const MAX_ENDPOINT_VALUE = 65;
/** An AWS endpoint id as logged: letters, digits and dashes, as the console shows it. */
const AWS_ENDPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** A private endpoint as the log and the policies name it: `aws:vpce-…`, `azure:<n>` or `gcp:<n>`. */
export type PrivateEndpoint = string;

/** Every name endpointOf can give (the `privateEndpoints` selector's schema refuses the rest). */
export const PRIVATE_ENDPOINT_PATTERN =
  '^(aws:[A-Za-z0-9][-A-Za-z0-9]{0,63}|azure:(0|[1-9][0-9]{0,9})|gcp:(0|[1-9][0-9]{0,19}))$';
const PRIVATE_ENDPOINT = new RegExp(PRIVATE_ENDPOINT_PATTERN);

/** Whether text names a private endpoint as the log and the policies write it (a command's argument). */
export const isPrivateEndpoint = (text: string): boolean => PRIVATE_ENDPOINT.test(text);

/** Whether an extension of this type may name a private endpoint (its value is worth keeping). */
export const namesEndpoint = (type: number): boolean =>
  type === TYPE_AWS || type === TYPE_AZURE || type === TYPE_GCP;

/** The endpoint an extension's whole value names, or null when it names none or is malformed. */
export function endpointOf(type: number, value: Buffer): PrivateEndpoint | null {
  if (type === TYPE_AWS) {
    if (value[0] !== SUBTYPE_AWS_VPCE_ID) return null;
    const id = value.toString('latin1', 1);
    return AWS_ENDPOINT_ID.test(id) ? `aws:${id}` : null;
  }
  if (type === TYPE_AZURE)
    return value.length === 5 && value[0] === SUBTYPE_AZURE_LINK_ID ? `azure:${value.readUInt32LE(1)}` : null;
  if (type === TYPE_GCP) return value.length === 8 ? `gcp:${value.readBigUInt64BE(0)}` : null;
  return null;
}
