import { rm } from 'node:fs/promises';
import {
  type EtcdProcess,
  freePort,
  makeCerts,
  realEtcdAvailable,
  startEtcd,
  type TestCerts,
} from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Normaliser, OUR_ETCDCTL, REAL_ETCDCTL_BIN, runCtl } from './twin.js';

describe.skipIf(!realEtcdAvailable() || !realEtcdAvailable(REAL_ETCDCTL_BIN))(
  'etcdctl over TLS, side by side with the real etcdctl on the same server',
  () => {
    let certs: TestCerts;
    let etcd: EtcdProcess;
    let endpoint: string;
    let norm: Normaliser;
    beforeAll(async () => {
      certs = await makeCerts();
      const port = await freePort();
      endpoint = `127.0.0.1:${port}`;
      norm = new Normaliser(endpoint);
      etcd = await startEtcd({
        args: [
          `--listen-client-urls=https://${endpoint}`,
          `--advertise-client-urls=https://${endpoint}`,
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

    async function same(args: string[]) {
      const [a, b] = await Promise.all([runCtl(REAL_ETCDCTL_BIN, args), runCtl(OUR_ETCDCTL, args)]);
      const n = (r: typeof a) => ({ stdout: norm.apply(r.stdout), code: r.code });
      expect(n(b), JSON.stringify(args)).toEqual(n(a));
      return { real: a, ours: b };
    }

    it('uses --cacert, --cert and --key (and ETCDCTL_* for them)', async () => {
      const tls = [
        `--endpoints=${endpoint}`,
        `--cacert=${certs.ca}`,
        `--cert=${certs.clientCert}`,
        `--key=${certs.clientKey}`,
      ];
      await same([...tls, 'put', 'secure', 'value']);
      await same([...tls, 'get', 'secure', '-w', 'json']);
      await same([...tls, 'member', 'list']);
      await same([
        `--endpoints=https://${endpoint}`,
        `--cacert=${certs.ca}`,
        `--cert=${certs.clientCert}`,
        `--key=${certs.clientKey}`,
        'get',
        'secure',
      ]);
      await same([
        `--endpoints=${endpoint}`,
        `--cert=${certs.clientCert}`,
        `--key=${certs.clientKey}`,
        '--insecure-skip-tls-verify',
        'get',
        'secure',
      ]);
      const env = {
        ETCDCTL_CACERT: certs.ca,
        ETCDCTL_CERT: certs.clientCert,
        ETCDCTL_KEY: certs.clientKey,
      };
      const r = await runCtl(
        OUR_ETCDCTL,
        [`--endpoints=${endpoint}`, 'get', 'secure', '--print-value-only'],
        { env },
      );
      expect(r.stdout).toBe('value\n');
    });

    it('fails like the real etcdctl on bad TLS settings', async () => {
      await same([`--endpoints=${endpoint}`, '--cert=', 'get', 'x']);
      await same([`--endpoints=${endpoint}`, '--cacert=/nonexistent/ca.crt', 'get', 'x']);
      const r = await same([
        `--endpoints=${endpoint}`,
        '--dial-timeout=1s',
        '--command-timeout=2s',
        `--cacert=${certs.ca}`,
        'get',
        'x',
      ]);
      expect(r.ours.code).toBe(1);
    });
  },
);
