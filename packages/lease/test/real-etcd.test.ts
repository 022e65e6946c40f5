// Checks the lessor's error classes and minimum TTL against Debian's etcd 3.4.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { etcdserverpb, rpctypes } from '@etcd-ts/api';
import { Backend } from '@etcd-ts/backend';
import { type EtcdProcess, errorOf, realEtcdAvailable, startEtcd, unary } from '@etcd-ts/testing';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseTTLTooLargeError,
  Lessor,
  MAX_LEASE_TTL,
  ManualClock,
  minLeaseTTL,
} from '../src/index.js';

describe.runIf(realEtcdAvailable())('the lessor agrees with etcd 3.4', () => {
  let etcd: EtcdProcess;
  let lease: etcdserverpb.LeaseClient;
  let dir: string;
  let backend: Backend;
  let lessor: Lessor;

  beforeAll(async () => {
    // etcd's defaults: 100 ms heartbeat, 1000 ms election timeout (10 ticks).
    etcd = await startEtcd({ name: 'lease-interop' });
    lease = new etcdserverpb.LeaseClient(etcd.endpoint, credentials.createInsecure());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lease-interop-'));
    backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
    lessor = new Lessor({ backend, clock: new ManualClock(), minLeaseTTL: minLeaseTTL(10, 100) });
    lessor.promote(1000);
  }, 30_000);

  afterAll(async () => {
    lease?.close();
    await etcd?.stop();
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const grant = (ID: bigint, TTL: number) =>
    unary(lease.leaseGrant.bind(lease), etcdserverpb.LeaseGrantRequest.fromPartial({ ID, TTL }));

  it('raises a short TTL to the same minimum', async () => {
    const res = await grant(100n, 1);
    expect(res.TTL).toBe(lessor.grant(100n, 1).ttl);
    expect(res.TTL).toBe(2);
  });

  // Our errors carry the lease package's text; etcd's server answers with its rpctypes entry,
  // which is what our server maps each class to.
  it('refuses an existing id, an unknown lease and a too large TTL as the rpctypes entries say', async () => {
    const dup = await errorOf(grant(100n, 10));
    expect(() => lessor.grant(100n, 10)).toThrow(LeaseExistsError);
    expect(dup.details).toBe(rpctypes.ErrGRPCLeaseExist.message);
    expect(dup.code).toBe(rpctypes.ErrGRPCLeaseExist.code);

    const big = await errorOf(grant(101n, MAX_LEASE_TTL + 1));
    expect(() => lessor.grant(101n, MAX_LEASE_TTL + 1)).toThrow(LeaseTTLTooLargeError);
    expect(big.details).toBe(rpctypes.ErrGRPCLeaseTTLTooLarge.message);
    expect(big.code).toBe(rpctypes.ErrGRPCLeaseTTLTooLarge.code);

    const gone = await errorOf(
      unary(
        lease.leaseRevoke.bind(lease),
        etcdserverpb.LeaseRevokeRequest.fromPartial({ ID: 12345n }),
      ),
    );
    expect(() => lessor.revoke(12345n)).toThrow(LeaseNotFoundError);
    expect(gone.details).toBe(rpctypes.ErrGRPCLeaseNotFound.message);
    expect(gone.code).toBe(rpctypes.ErrGRPCLeaseNotFound.code);
  });

  it('reports the same granted TTL and whole remaining seconds', async () => {
    await grant(200n, 60);
    const res = await unary(
      lease.leaseTimeToLive.bind(lease),
      etcdserverpb.LeaseTimeToLiveRequest.fromPartial({ ID: 200n, keys: true }),
    );
    lessor.grant(200n, 60);
    const ours = lessor.timeToLive(200n, true);
    expect(res.grantedTTL).toBe(ours.grantedTTL);
    expect(ours.TTL).toBe(60);
    expect(res.TTL).toBeGreaterThanOrEqual(58); // etcd's clock has run since its grant
    expect(res.TTL).toBeLessThanOrEqual(60);
    expect(res.keys).toEqual(ours.keys);
  });
});
