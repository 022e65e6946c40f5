import { readFileSync, rmSync } from 'node:fs';
import { type EtcdProcess, freePort, makeCerts, startEtcd, type TestCerts } from '@etcd-ts/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

describe('TLS with client certificates', () => {
  let certs: TestCerts;
  let etcd: EtcdProcess;
  let url: string;
  beforeAll(async () => {
    certs = await makeCerts();
    const port = await freePort();
    url = `https://127.0.0.1:${port}`;
    etcd = await startEtcd({
      bin: ETCD_TS_BIN,
      args: [
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--cert-file=${certs.serverCert}`,
        `--key-file=${certs.serverKey}`,
        `--trusted-ca-file=${certs.ca}`,
        '--client-cert-auth',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await etcd?.stop();
    if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
  });

  const client = () =>
    new Etcd3({
      hosts: url,
      credentials: {
        rootCertificate: readFileSync(certs.ca),
        privateKey: readFileSync(certs.clientKey),
        certChain: readFileSync(certs.clientCert),
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
      credentials: { rootCertificate: readFileSync(certs.ca) },
      dialTimeout: 2000,
    });
    try {
      await expect(anon.get('tls/k').string()).rejects.toThrow();
    } finally {
      anon.close();
    }
  }, 60_000);
});
