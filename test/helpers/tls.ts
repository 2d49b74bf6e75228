import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed P-256 serving certificate for 127.0.0.1 and localhost (openssl), as files and contents. */
export function selfSignedCertificate(): { certFile: string; keyFile: string; cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=gatehouse-operator',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/**
 * A client certificate for mutual TLS (openssl): a CA of its own and a P-256 certificate it
 * signed for `commonName`, usable for client authentication only, with the key in SEC1 PEM (as
 * `openssl ecparam` writes it, not PKCS #8) and the CA after it in `chain`.
 */
export function clientCertificate(commonName: string): {
  ca: string;
  cert: string;
  key: string;
  chain: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-client-tls-'));
  const at = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', at('ca.key'));
  run(
    'req',
    '-x509',
    '-new',
    '-key',
    at('ca.key'),
    '-days',
    '1',
    '-subj',
    '/CN=client CA',
    '-out',
    at('ca.crt'),
  );
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', at('client.key'));
  run('req', '-new', '-key', at('client.key'), '-subj', `/CN=${commonName}`, '-out', at('client.csr'));
  writeFileSync(at('ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  run(
    'x509',
    '-req',
    '-in',
    at('client.csr'),
    '-CA',
    at('ca.crt'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    at('ext'),
    '-out',
    at('client.crt'),
  );
  const cert = readFileSync(at('client.crt'), 'utf8');
  const ca = readFileSync(at('ca.crt'), 'utf8');
  return { ca, cert, key: readFileSync(at('client.key'), 'utf8'), chain: `${cert}${ca}` };
}
