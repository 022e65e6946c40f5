import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { etcdserverpb } from '@etcd-ts/api';
import {
  type EtcdCluster,
  type EtcdProcess,
  freePort,
  makeCerts,
  startCluster,
  startEtcd,
  type TestCerts,
} from '@etcd-ts/testing';
import { type ChannelCredentials, credentials, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

// Peer and client TLS of apps/etcd as real processes: clusters over https peer URLs (with
// peer client certificate authentication, and with --peer-auto-tls), a peer certificate
// whose CN is not --peer-cert-allowed-cn refused, a revoked client certificate refused,
// --cipher-suites honoured, and a CA file alone requiring client certificates.

const FAST = ['--heartbeat-interval=50', '--election-timeout=500'];
const b = (s: string) => Buffer.from(s);

function kv(endpoint: string, creds: ChannelCredentials = credentials.createInsecure()) {
  return new etcdserverpb.KVClient(endpoint, creds);
}

function put(c: etcdserverpb.KVClient, key: string, value: string): Promise<void> {
  return new Promise((resolve, reject) =>
    c.put(
      etcdserverpb.PutRequest.fromPartial({ key: b(key), value: b(value) }),
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
}

function get(c: etcdserverpb.KVClient, key: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    c.range(
      etcdserverpb.RangeRequest.fromPartial({ key: b(key) }),
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err, res) => (err ? reject(err) : resolve(res?.kvs[0]?.value.toString())),
    ),
  );
}

/** Retries until the write lands (a new cluster may still be electing). */
async function putEventually(c: etcdserverpb.KVClient, key: string, value: string) {
  for (let i = 0; ; i++) {
    try {
      return await put(c, key, value);
    } catch (err) {
      if (i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A GET of the peer endpoint /version over https with a given client certificate. */
function peerVersion(url: string, certs: TestCerts, cert: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      new URL('/version', url),
      {
        ca: readFileSync(certs.ca),
        cert: readFileSync(cert),
        key: readFileSync(key),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Whether a TLS 1.2 handshake with only `cipher` (OpenSSL's name) succeeds. */
function handshake(
  port: number,
  opts: tls.ConnectionOptions,
): Promise<{ ok: boolean; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], ...opts }, () => {
      const cipher = s.getCipher().name;
      // The server may still refuse after the handshake (a missing or revoked certificate).
      const t = setTimeout(() => {
        s.destroy();
        resolve({ ok: true, cipher });
      }, 300);
      s.once('close', () => {
        clearTimeout(t);
        resolve({ ok: false, error: 'closed by the server after the handshake' });
      });
    });
    s.on('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

describe('peer TLS clusters', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await makeCerts();
  });
  afterAll(() => {
    if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('forms a 3-member cluster over https peer URLs with peer client cert auth', async () => {
    const cluster: EtcdCluster = await startCluster({
      bin: ETCD_TS_BIN,
      size: 3,
      peerScheme: 'https',
      args: [
        ...FAST,
        `--peer-cert-file=${certs.serverCert}`,
        `--peer-key-file=${certs.serverKey}`,
        `--peer-trusted-ca-file=${certs.ca}`,
        '--peer-client-cert-auth',
        '--peer-cert-allowed-cn=localhost',
      ],
    });
    const clients = cluster.members.map((m) => kv(m.endpoint));
    try {
      expect(cluster.members[0]!.peerUrl).toMatch(/^https:/);
      await putEventually(clients[0]!, 'tls/peer', 'v1');
      expect(await get(clients[2]!, 'tls/peer')).toBe('v1');
      await put(clients[1]!, 'tls/peer', 'v2');
      expect(await get(clients[0]!, 'tls/peer')).toBe('v2');
      const logs = cluster.logs();
      expect(logs).toContain('starting with peer TLS');
      // A peer presenting a certificate of the same CA but another CN is refused at once;
      // the member's own certificate (CN localhost) is served.
      const url = cluster.members[0]!.peerUrl;
      expect(await peerVersion(url, certs, certs.serverCert, certs.serverKey)).toBe(200);
      await expect(peerVersion(url, certs, certs.clientCert, certs.clientKey)).rejects.toThrow(
        /socket hang up|ECONNRESET|EPIPE/,
      );
      // The member logs the refusal as it happens; its output reaches us a moment later.
      const refusal =
        /rejected connection.*client certificate authentication failed|client certificate authentication failed.*rejected connection/;
      for (let i = 0; i < 100 && !refusal.test(cluster.members[0]!.proc!.logs()); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(cluster.members[0]!.proc!.logs()).toMatch(refusal);
      // Without any client certificate the handshake itself fails.
      await expect(
        new Promise((resolve, reject) =>
          https
            .get(new URL('/version', url), { ca: readFileSync(certs.ca), agent: false }, resolve)
            .on('error', reject),
        ),
      ).rejects.toThrow();
    } finally {
      for (const c of clients) c.close();
      await cluster.stop();
    }
  }, 120_000);

  it('forms a 3-member cluster with --peer-auto-tls (self-signed, not verified)', async () => {
    const cluster = await startCluster({
      bin: ETCD_TS_BIN,
      size: 3,
      peerScheme: 'https',
      args: [...FAST, '--peer-auto-tls'],
    });
    const clients = cluster.members.map((m) => kv(m.endpoint));
    try {
      await putEventually(clients[1]!, 'auto/k', 'v');
      expect(await get(clients[2]!, 'auto/k')).toBe('v');
      for (const m of cluster.members) {
        const pem = join(m.dataDir, 'fixtures', 'peer', 'cert.pem');
        expect(existsSync(pem)).toBe(true);
        expect(existsSync(join(m.dataDir, 'fixtures', 'peer', 'key.pem'))).toBe(true);
        const text = execFileSync('openssl', ['x509', '-in', pem, '-noout', '-text'], {
          encoding: 'utf8',
        });
        expect(text).toContain('O = etcd');
        expect(text).toContain('IP Address:127.0.0.1');
        expect(text).toMatch(/NIST CURVE: P-521|secp521r1/);
      }
      // A restart reuses the certificate it made.
      const m = cluster.members[0]!;
      const before = readFileSync(join(m.dataDir, 'fixtures', 'peer', 'cert.pem'), 'utf8');
      await cluster.kill(m);
      await cluster.restart(m);
      expect(readFileSync(join(m.dataDir, 'fixtures', 'peer', 'cert.pem'), 'utf8')).toBe(before);
      await putEventually(kv(m.endpoint), 'auto/k2', 'v2');
    } finally {
      for (const c of clients) c.close();
      await cluster.stop();
    }
  }, 120_000);
});

describe('client TLS', () => {
  let certs: TestCerts;
  let crl: string;
  let etcd: EtcdProcess | undefined;
  beforeAll(async () => {
    certs = await makeCerts();
    // A CRL from the test CA revoking the client certificate (CN root).
    const p = (f: string) => join(certs.dir, f);
    writeFileSync(p('index.txt'), '');
    writeFileSync(p('crlnumber'), '1000\n');
    writeFileSync(
      p('ca.cnf'),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${p('index.txt')}\ncrlnumber=${p('crlnumber')}\ndefault_md=sha256\ndefault_crl_days=2\ncertificate=${certs.ca}\nprivate_key=${p('ca.key')}\n`,
    );
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    ssl('ca', '-config', p('ca.cnf'), '-revoke', certs.clientCert);
    crl = p('crl.pem');
    ssl('ca', '-config', p('ca.cnf'), '-gencrl', '-out', crl);
  });
  afterAll(async () => {
    await etcd?.stop();
    if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
  });

  const start = async (args: string[]) => {
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    etcd = await startEtcd({
      bin: ETCD_TS_BIN,
      args: [
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--cert-file=${certs.serverCert}`,
        `--key-file=${certs.serverKey}`,
        ...args,
      ],
    });
    return port;
  };
  const stop = async () => {
    await etcd?.stop();
    etcd = undefined;
  };
  const creds = (cert: string, key: string) =>
    credentials.createSsl(readFileSync(certs.ca), readFileSync(key), readFileSync(cert));

  it('refuses a client certificate the --client-crl-file revokes', async () => {
    const port = await start([
      `--trusted-ca-file=${certs.ca}`,
      '--client-cert-auth',
      `--client-crl-file=${crl}`,
    ]);
    try {
      const good = kv(`127.0.0.1:${port}`, creds(certs.serverCert, certs.serverKey));
      await put(good, 'crl/k', 'v');
      good.close();
      const revoked = kv(`127.0.0.1:${port}`, creds(certs.clientCert, certs.clientKey));
      await expect(put(revoked, 'crl/k', 'x')).rejects.toThrow(/UNAVAILABLE|14/);
      revoked.close();
      expect(etcd!.logs()).toMatch(/certificate serial [0-9a-f]+ revoked.*rejected connection/);
    } finally {
      await stop();
    }
  }, 60_000);

  it('honours --cipher-suites for TLS 1.2 clients (TLS 1.3 keeps its own suites, as in Go)', async () => {
    const port = await start(['--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']);
    try {
      const listed = await handshake(port, {
        ca: readFileSync(certs.ca),
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
      });
      expect(listed).toEqual({ ok: true, cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
      const other = await handshake(port, {
        ca: readFileSync(certs.ca),
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      });
      expect(other.ok).toBe(false);
      expect(other.error).toMatch(/handshake failure|alert/);
      const tls13 = await handshake(port, { ca: readFileSync(certs.ca) });
      expect(tls13.ok).toBe(true);
      // Clients still work over it.
      const c = kv(`127.0.0.1:${port}`, credentials.createSsl(readFileSync(certs.ca)));
      await put(c, 'cipher/k', 'v');
      c.close();
    } finally {
      await stop();
    }
  }, 60_000);

  it('requires a client certificate when only --trusted-ca-file is given, as etcd', async () => {
    const port = await start([`--trusted-ca-file=${certs.ca}`]);
    try {
      const anon = await handshake(port, { ca: readFileSync(certs.ca) });
      expect(anon.ok).toBe(false);
      const c = kv(`127.0.0.1:${port}`, creds(certs.clientCert, certs.clientKey));
      await put(c, 'ca/k', 'v');
      c.close();
    } finally {
      await stop();
    }
  }, 60_000);

  it('serves clients over --auto-tls with a certificate in <data-dir>/fixtures/client', async () => {
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    etcd = await startEtcd({
      bin: ETCD_TS_BIN,
      args: [`--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, '--auto-tls'],
    });
    try {
      const pem = readFileSync(join(etcd.dataDir, 'fixtures', 'client', 'cert.pem'));
      const c = kv(`127.0.0.1:${port}`, credentials.createSsl(pem));
      await put(c, 'auto/client', 'v');
      expect(await get(c, 'auto/client')).toBe('v');
      c.close();
    } finally {
      await stop();
    }
  }, 60_000);
});
