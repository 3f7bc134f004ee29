import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A throwaway CA and certificates signed by it, made with the openssl command line (tests only). Every leaf names
 * localhost and 127.0.0.1, which is what `infergraph up` dials.
 */
export function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Certs {
  ca: string;
  /** name -> { cert, key } */
  leaf(name: string): { cert: string; key: string };
}

export function makeCerts(dir: string, caName = 'infergraph-test-ca'): Certs {
  const p = (f: string): string => path.join(dir, f);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${caName}`,
    '-keyout',
    p(`${caName}.key`),
    '-out',
    p(`${caName}.crt`),
  );
  writeFileSync(p('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  return {
    ca: p(`${caName}.crt`),
    leaf(name: string) {
      const key = p(`${name}.key`);
      const cert = p(`${name}.crt`);
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', p(`${name}.csr`));
      ssl(
        'x509',
        '-req',
        '-in',
        p(`${name}.csr`),
        '-CA',
        p(`${caName}.crt`),
        '-CAkey',
        p(`${caName}.key`),
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        p('san.ext'),
        '-out',
        cert,
      );
      return { cert, key };
    },
  };
}
