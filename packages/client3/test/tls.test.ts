import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type EtcdProcess, freePort, makeCerts, startEtcd, type TestCerts } from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ErrDeadlineExceeded } from '../src/index.js';
import { haveEtcd, text } from './etcd.js';

describe.skipIf(!haveEtcd)('TLS against a real etcd', () => {
  let certs: TestCerts;
  let etcd: EtcdProcess;
  let endpoint: string;
  beforeAll(async () => {
    certs = await makeCerts();
    const port = await freePort();
    endpoint = `https://127.0.0.1:${port}`;
    etcd = await startEtcd({
      args: [
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--cert-file=${certs.serverCert}`,
        `--key-file=${certs.serverKey}`,
        `--trusted-ca-file=${certs.ca}`,
        '--client-cert-auth',
      ],
    });
  });
  afterAll(async () => {
    await etcd?.stop();
    if (certs !== undefined) await rm(certs.dir, { recursive: true, force: true });
  });

  it('talks TLS with a CA and a client certificate', async () => {
    const c = new Client({
      endpoints: [endpoint],
      tls: {
        ca: readFileSync(certs.ca),
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
      },
    });
    try {
      await c.put('tls', 'yes');
      expect(text((await c.get('tls')).kvs[0]?.value)).toBe('yes');
    } finally {
      c.close();
    }
  });

  it('accepts an unknown server certificate only with insecureSkipVerify', async () => {
    const cert = readFileSync(certs.clientCert);
    const key = readFileSync(certs.clientKey);
    const strict = new Client({ endpoints: [endpoint], dialTimeout: 1_000, tls: { cert, key } });
    await expect(strict.get('tls')).rejects.toBeInstanceOf(ErrDeadlineExceeded);
    strict.close();
    const lax = new Client({ endpoints: [endpoint], tls: { cert, key, insecureSkipVerify: true } });
    expect((await lax.get('tls')).count).toBe(1);
    lax.close();
  });

  it('is refused without a client certificate when the server requires one', async () => {
    const c = new Client({
      endpoints: [endpoint],
      dialTimeout: 1_000,
      tls: { ca: readFileSync(certs.ca) },
    });
    await expect(c.get('tls')).rejects.toThrow();
    c.close();
  });
});
