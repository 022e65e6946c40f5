import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { type EtcdProcess, rng, startEtcd } from '@etcd-ts/testing';
import { credentials } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

const P = etcdserverpb;
const SEED = Number(process.env.DURABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`durability test seed: ${SEED} (DURABILITY_SEED=${SEED} reproduces)`);

interface Ack {
  key: string;
  seq: number;
  rev: number;
}

const CLIENTS = 8;
const KEYS_PER_CLIENT = 20;

/** `seqs[c]` is client c's last sequence number: it keeps growing across rounds. */
async function load(
  endpoint: string,
  runMs: number,
  rand: () => number,
  seqs: number[],
): Promise<Ack[]> {
  const acks: Ack[] = [];
  const stopAt = Date.now() + runMs;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const kv = new P.KVClient(endpoint, credentials.createInsecure());
      try {
        while (Date.now() < stopAt) {
          const key = `c${c}/k${Math.floor(rand() * KEYS_PER_CLIENT)}`;
          const seq = ++seqs[c]!;
          const res = await new Promise<etcdserverpb.PutResponse | undefined>((resolve) =>
            kv.put(
              P.PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(String(seq)) }),
              (err, r) => resolve(err ? undefined : r),
            ),
          );
          if (res === undefined) break; // the server is gone
          acks.push({ key, seq, rev: res.header!.revision });
        }
      } finally {
        kv.close();
      }
    }),
  );
  return acks;
}

function rangeAll(endpoint: string): Promise<etcdserverpb.RangeResponse> {
  const kv = new P.KVClient(endpoint, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    kv.range(
      P.RangeRequest.fromPartial({ key: Buffer.from('c'), rangeEnd: Buffer.from('d') }),
      (err, r) => {
        kv.close();
        if (err) reject(err);
        else resolve(r);
      },
    ),
  );
}

/** Every event on c/ from `fromRev` until `untilRev` is seen. */
function watchFrom(
  endpoint: string,
  fromRev: number,
  untilRev: number,
): Promise<Map<number, string[]>> {
  const client = new P.WatchClient(endpoint, credentials.createInsecure());
  const byRev = new Map<number, string[]>();
  return new Promise((resolve, reject) => {
    const stream = client.watch();
    const timer = setTimeout(() => {
      stream.cancel();
      reject(new Error(`watch from ${fromRev} did not reach ${untilRev}`));
    }, 20_000);
    stream.on('error', () => {});
    stream.on('data', (r: etcdserverpb.WatchResponse) => {
      for (const ev of r.events) {
        const rev = ev.kv!.modRevision;
        byRev.set(rev, [...(byRev.get(rev) ?? []), Buffer.from(ev.kv!.key).toString()]);
        if (rev >= untilRev) {
          clearTimeout(timer);
          stream.cancel();
          client.close();
          resolve(byRev);
        }
      }
    });
    stream.write(
      P.WatchRequest.fromPartial({
        createRequest: {
          key: Buffer.from('c'),
          rangeEnd: Buffer.from('d'),
          startRevision: fromRev,
        },
      }),
    );
  });
}

describe('durability under kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-ts-durability-'));
  let proc: EtcdProcess | undefined;
  afterAll(async () => {
    await proc?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write; revisions only grow; watchers resume without gaps', async () => {
    const rand = rng(SEED);
    const start = () =>
      startEtcd({
        bin: ETCD_TS_BIN,
        dataDir: dir,
        args: ['--snapshot-count=300'],
        startTimeoutMs: 30_000,
      });
    const latest = new Map<string, number>();
    const seqs = new Array<number>(CLIENTS).fill(0);
    let maxRev = 0;
    let lastWatched = 1;
    for (let round = 0; round < 3; round++) {
      proc = await start();
      const endpoint = proc.endpoint;
      const before = await rangeAll(endpoint);
      // Revisions never go back across a crash.
      expect(before.header!.revision).toBeGreaterThanOrEqual(maxRev);
      // Every write acknowledged before the crash is there (or a later write to its key).
      const values = new Map(
        before.kvs.map((kv) => [
          Buffer.from(kv.key).toString(),
          Number(Buffer.from(kv.value).toString()),
        ]),
      );
      for (const [key, seq] of latest)
        expect(values.get(key) ?? -1, key).toBeGreaterThanOrEqual(seq);
      // A watcher resuming after its last revision misses nothing.
      if (maxRev > lastWatched) {
        const seen = await watchFrom(endpoint, lastWatched + 1, maxRev);
        for (let r = lastWatched + 1; r <= maxRev; r++)
          expect(seen.has(r), `revision ${r}`).toBe(true);
        lastWatched = maxRev;
      }
      const runMs = 800 + Math.floor(rand() * 1200);
      const killer = new Promise<void>((resolve) =>
        setTimeout(() => {
          void proc!.kill().then(resolve);
        }, runMs),
      );
      const acks = await load(endpoint, runMs + 5000, rand, seqs);
      await killer;
      // Per client, seq numbers grow; keep the newest acknowledged seq per key.
      for (const a of acks) {
        if (a.seq > (latest.get(a.key) ?? -1)) latest.set(a.key, a.seq);
        if (a.rev > maxRev) maxRev = a.rev;
      }
      expect(acks.length).toBeGreaterThan(0);
      console.log(`round ${round}: ${acks.length} acknowledged writes, max revision ${maxRev}`);
    }
    proc = await start();
    const final = await rangeAll(proc.endpoint);
    expect(final.header!.revision).toBeGreaterThanOrEqual(maxRev);
    const values = new Map(
      final.kvs.map((kv) => [
        Buffer.from(kv.key).toString(),
        Number(Buffer.from(kv.value).toString()),
      ]),
    );
    for (const [key, seq] of latest) expect(values.get(key) ?? -1, key).toBeGreaterThanOrEqual(seq);
    await proc.stop();
    proc = undefined;
  }, 120_000);
});
