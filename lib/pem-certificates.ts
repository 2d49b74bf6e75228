import { X509Certificate } from 'node:crypto';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The PEM certificates of a bundle, each parsed, and nothing else of it: a key stored beside them
 * (a `tls.pem` of key and chain) must not travel to every sidecar in its config, nor be printed by
 * `gatehouse validate`. A message when there is no certificate or one does not parse.
 */
export function certificatesOf(pem: string): { certificates: string } | { problem: string } {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return { problem: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)' };
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return {
        problem: `certificate ${i + 1} of ${blocks.length} does not parse (${(error as Error).message})`,
      };
    }
  }
  return { certificates: `${blocks.join('\n')}\n` };
}
