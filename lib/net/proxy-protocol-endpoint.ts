/**
 * The private endpoint a connection came through, from the extensions (TLVs) of a PROXY protocol
 * version 2 header: behind AWS PrivateLink, Azure Private Link or GCP Private Service Connect the
 * header's address is the client's in its own network, which another consumer may share; the
 * endpoint names the consumer. Read as the header's bytes arrive, keeping at most one value of
 * MAX_VALUE bytes, so a header of 64 KiB of extensions costs what it sends and no more memory.
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
const MAX_VALUE = 65;
/** An AWS endpoint id as logged: letters, digits and dashes, as the console shows it. */
const AWS_ENDPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const TLV_HEAD = 3;

/** A private endpoint as the log and the policies name it: `aws:vpce-…`, `azure:<n>` or `gcp:<n>`. */
export type PrivateEndpoint = string;

/** Every name endpointOf can give (the `privateEndpoints` selector's schema refuses the rest). */
export const PRIVATE_ENDPOINT_PATTERN =
  '^(aws:[A-Za-z0-9][-A-Za-z0-9]{0,63}|azure:(0|[1-9][0-9]{0,9})|gcp:(0|[1-9][0-9]{0,19}))$';
const PRIVATE_ENDPOINT = new RegExp(PRIVATE_ENDPOINT_PATTERN);

/** Whether text names a private endpoint as the log and the policies write it (a command's argument). */
export const isPrivateEndpoint = (text: string): boolean => PRIVATE_ENDPOINT.test(text);

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

/**
 * Reads the extensions of one version 2 header a chunk at a time: `feed` every byte of them in
 * order, then `endpoint` is the first private endpoint they named whole.
 */
export class EndpointExtensions {
  private readonly head = Buffer.alloc(TLV_HEAD);
  private headFill = 0;
  /** Bytes of the current extension's value still to come. */
  private valueLeft = 0;
  private type = 0;
  /** The current value, while it is one of the vendors' and short enough to keep. */
  private value: Buffer | null = null;
  private valueFill = 0;
  private found: PrivateEndpoint | null = null;

  feed(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length && this.found === null) {
      if (this.valueLeft === 0 && this.headFill < TLV_HEAD) {
        const take = Math.min(TLV_HEAD - this.headFill, bytes.length - at);
        bytes.copy(this.head, this.headFill, at, at + take);
        this.headFill += take;
        at += take;
        if (this.headFill === TLV_HEAD) this.startValue();
        continue;
      }
      const take = Math.min(this.valueLeft, bytes.length - at);
      if (this.value !== null) bytes.copy(this.value, this.valueFill, at, at + take);
      this.valueFill += take;
      this.valueLeft -= take;
      at += take;
      if (this.valueLeft === 0) this.endValue();
    }
  }

  /** The first endpoint named by a whole extension; null when none was. */
  get endpoint(): PrivateEndpoint | null {
    return this.found;
  }

  private startValue(): void {
    this.type = this.head[0] as number;
    this.valueLeft = this.head.readUInt16BE(1);
    this.valueFill = 0;
    const wanted = this.type === TYPE_AWS || this.type === TYPE_AZURE || this.type === TYPE_GCP;
    this.value = wanted && this.valueLeft <= MAX_VALUE ? Buffer.alloc(this.valueLeft) : null;
    if (this.valueLeft === 0) this.endValue();
  }

  private endValue(): void {
    if (this.value !== null) this.found = endpointOf(this.type, this.value);
    this.value = null;
    this.headFill = 0;
  }
}
