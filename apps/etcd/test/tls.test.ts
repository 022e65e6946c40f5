import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdProcess, freePort, startEtcd } from '@etcd-ts/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

/** A CA, a server certificate for 127.0.0.1 and a client certificate with CN=root. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=etcd-ts test CA',
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=etcd-ts server',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=root',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
    '-extfile',
    'client.ext',
  );
}

describe('TLS with client certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-ts-tls-'));
  let etcd: EtcdProcess;
  let url: string;
  beforeAll(async () => {
    makeCerts(dir);
    const port = await freePort();
    url = `https://127.0.0.1:${port}`;
    etcd = await startEtcd({
      bin: ETCD_TS_BIN,
      args: [
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--cert-file=${join(dir, 'server.crt')}`,
        `--key-file=${join(dir, 'server.key')}`,
        `--trusted-ca-file=${join(dir, 'ca.crt')}`,
        '--client-cert-auth',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = () =>
    new Etcd3({
      hosts: url,
      credentials: {
        rootCertificate: readFileSync(join(dir, 'ca.crt')),
        privateKey: readFileSync(join(dir, 'client.key')),
        certChain: readFileSync(join(dir, 'client.crt')),
      },
    });

  it('serves the etcd3 client over TLS, and takes the certificate CN as the user with auth on', async () => {
    const c = client();
    try {
      await c.put('tls/k').value('v');
      expect(await c.get('tls/k').string()).toBe('v');
      // With auth on, the certificate's common name (root) is the user: no password needed.
      await c.user('root').create('rootpw');
      await c.user('root').addRole('root');
      await c.auth.authEnable({});
      await c.put('tls/k').value('as-root');
      expect(await c.get('tls/k').string()).toBe('as-root');
      await c.auth.authDisable({});
    } finally {
      c.close();
    }
    // Without a client certificate the handshake is refused.
    const anon = new Etcd3({
      hosts: url,
      credentials: { rootCertificate: readFileSync(join(dir, 'ca.crt')) },
      dialTimeout: 2000,
    });
    try {
      await expect(anon.get('tls/k').string()).rejects.toThrow();
    } finally {
      anon.close();
    }
  }, 60_000);
});
