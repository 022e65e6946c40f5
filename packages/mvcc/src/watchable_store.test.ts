import fs from 'node:fs';
import path from 'node:path';
import { mvccpb } from '@etcd-ts/api';
import { Backend, boltSnapshotFormat, importBoltDb } from '@etcd-ts/backend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { b, rng, s, TestDir, testSeed } from '../test/util.js';
import {
  DuplicateWatchIdError,
  EmptyWatcherRangeError,
  eventSize,
  fragmentEvents,
  WatcherNotExistError,
  WatchFilterType,
  type WatchStream,
} from './watch_stream.js';
import { WatchableStore } from './watchable_store.js';
import { WATCH_BATCH_MAX_BYTES, type WatchResponse } from './watcher_group.js';

let t: TestDir;
let st: WatchableStore;
beforeEach(() => {
  t = new TestDir();
  st = new WatchableStore(t.backend(), { syncInterval: 5, victimInterval: 2 });
});
afterEach(async () => {
  await st.close();
  await t.cleanup();
});

const evs = (r: WatchResponse | undefined) =>
  (r?.events ?? []).map(
    (e) => `${e.type === 0 ? 'PUT' : 'DEL'} ${s(e.kv!.key)}@${e.kv!.modRevision}`,
  );

async function drain(
  ws: WatchStream,
  until: (all: WatchResponse[]) => boolean,
  ms = 5000,
): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  const deadline = Date.now() + ms;
  while (!until(out)) {
    const r = ws.tryRecv();
    if (r !== undefined) out.push(r);
    else if (Date.now() > deadline) throw new Error(`timed out with ${out.length} responses`);
    else await new Promise((res) => setTimeout(res, 1));
  }
  return out;
}

describe('watch', () => {
  it('delivers puts and deletes on a key, a range and from a key, with the revision', async () => {
    const ws = st.newWatchStream();
    const one = ws.watch({ key: b('a') });
    const range = ws.watch({ key: b('a'), rangeEnd: b('c') });
    const from = ws.watch({ key: b('b'), rangeEnd: Buffer.from([0]) });
    expect([one, range, from]).toEqual([0, 1, 2]);
    st.put(b('a'), b('1'));
    st.put(b('b'), b('2'));
    st.put(b('z'), b('3'));
    st.deleteRange(b('a'));
    const all = await drain(ws, (rs) => rs.length === 7);
    const byId = (id: number) => all.filter((r) => r.watchId === id).flatMap((r) => evs(r));
    expect(byId(one)).toEqual(['PUT a@2', 'DEL a@5']);
    expect(byId(range)).toEqual(['PUT a@2', 'PUT b@3', 'DEL a@5']);
    expect(byId(from)).toEqual(['PUT b@3', 'PUT z@4']);
    expect(all[0]!.revision).toBe(2);
  });

  it('applies NOPUT/NODELETE filters and fills prev_kv', async () => {
    const ws = st.newWatchStream();
    const noPut = ws.watch({ key: b('k'), filters: [WatchFilterType.NOPUT] });
    const prev = ws.watch({ key: b('k'), filters: [WatchFilterType.NODELETE], prevKv: true });
    st.put(b('k'), b('1'));
    st.put(b('k'), b('2'));
    st.deleteRange(b('k'));
    const all = await drain(ws, (rs) => rs.length === 3);
    expect(all.filter((r) => r.watchId === noPut).flatMap(evs)).toEqual(['DEL k@4']);
    const withPrev = all.filter((r) => r.watchId === prev).flatMap((r) => r.events);
    expect(withPrev.map((e) => [s(e.kv!.value), e.prevKv && s(e.prevKv.value)])).toEqual([
      ['1', undefined],
      ['2', '1'],
    ]);
  });

  it('refuses duplicate ids and empty ranges, and cancels', () => {
    const ws = st.newWatchStream();
    expect(ws.watch({ id: 7, key: b('a') })).toBe(7);
    expect(() => ws.watch({ id: 7, key: b('a') })).toThrow(DuplicateWatchIdError);
    expect(() => ws.watch({ key: b('b'), rangeEnd: b('a') })).toThrow(EmptyWatcherRangeError);
    ws.cancel(7);
    expect(() => ws.cancel(7)).toThrow(WatcherNotExistError);
    st.put(b('a'), b('1'));
    expect(ws.tryRecv()).toBeUndefined();
  });

  it('catches up from history in bounded passes, then follows live writes', async () => {
    await st.close();
    st = new WatchableStore(t.backend(), { syncInterval: 1, syncBatchEntries: 7 });
    for (let i = 0; i < 50; i++) st.put(b(`k${i % 5}`), b(`${i}`));
    const ws = st.newWatchStream();
    ws.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 10 });
    expect(st.watcherCounts().unsynced).toBe(1);
    const got = await drain(ws, (rs) => rs.flatMap(evs).length === 42);
    expect(got.length).toBeGreaterThan(1);
    expect(got.flatMap(evs).map((e) => Number(e.split('@')[1]))).toEqual(
      Array.from({ length: 42 }, (_, i) => 10 + i),
    );
    expect(st.watcherCounts()).toEqual({ synced: 1, unsynced: 0, victims: 0 });
    st.put(b('k1'), b('live'));
    expect(evs(await ws.recv())).toEqual(['PUT k1@52']);
  });

  it('splits a catch-up of large values into responses of about WATCH_BATCH_MAX_BYTES', async () => {
    const big = Buffer.alloc(100 * 1024, 7);
    for (let i = 0; i < 40; i++) st.put(b(`big${i % 3}`), big);
    const ws = st.newWatchStream();
    ws.watch({ key: b('big'), rangeEnd: b('bih'), startRevision: 2 });
    const got = await drain(ws, (rs) => rs.flatMap(evs).length === 40);
    for (const r of got) {
      const bytes = r.events.reduce((n, e) => n + e.kv!.key.length + e.kv!.value.length, 0);
      // A response stops at the first revision past the bound: one value over, at most.
      expect(bytes).toBeLessThanOrEqual(WATCH_BATCH_MAX_BYTES + big.length + 8);
    }
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(got.flatMap(evs).map((e) => Number(e.split('@')[1]))).toEqual(
      Array.from({ length: 40 }, (_, i) => 2 + i),
    );
  });

  it('bounds a catch-up pass by watchers per sync and each response by 1000 revisions', async () => {
    await st.close();
    st = new WatchableStore(t.backend(), { syncInterval: 60_000, maxWatchersPerSync: 2 });
    for (let i = 0; i < 1500; i++) st.put(b('k'), b(`${i}`));
    const ws = st.newWatchStream({ channelCapacity: 1000 });
    for (let i = 0; i < 5; i++) ws.watch({ key: b('k'), startRevision: 2 });
    // Two watchers per pass, each caught up in responses of at most 1000 revisions; the
    // other three wait for the following passes.
    expect(st.syncWatchers()).toBe(3);
    const first = ws.tryRecv()!;
    expect(first.events).toHaveLength(1000); // one response carries at most 1000 revisions
    expect(first.events[999]!.kv!.modRevision).toBe(1001);
    expect(ws.tryRecv()!.events.map((e) => e.kv!.modRevision)).toEqual(
      Array.from({ length: 500 }, (_, i) => 1002 + i),
    );
    expect(ws.tryRecv()!.events).toHaveLength(1000);
    expect(ws.tryRecv()!.events).toHaveLength(500);
    expect(ws.tryRecv()).toBeUndefined();
    while (st.syncWatchers() > 0);
    let total = 3000;
    for (let r = ws.tryRecv(); r !== undefined; r = ws.tryRecv()) total += r.events.length;
    expect(total).toBe(5 * 1500);
    expect(st.watcherCounts()).toEqual({ synced: 5, unsynced: 0, victims: 0 });
  });

  it('cancels a watch from a compacted revision with the compact revision', async () => {
    for (let i = 0; i < 10; i++) st.put(b('a'), b(`${i}`));
    await st.compact(8);
    const ws = st.newWatchStream();
    const id = ws.watch({ key: b('a'), startRevision: 3 });
    const r = await ws.recv();
    expect(r).toMatchObject({ watchId: id, compactRevision: 8, events: [] });
    expect(st.watcherCounts()).toEqual({ synced: 0, unsynced: 0, victims: 0 });
  });

  it('never blocks a writer on a full stream: slow watchers become victims and catch up', async () => {
    const ws = st.newWatchStream({ channelCapacity: 2 });
    ws.watch({ key: b('a') });
    for (let i = 0; i < 100; i++) st.put(b('a'), b(`${i}`));
    expect(ws.pending).toBe(2);
    expect(st.watcherCounts().victims + st.watcherCounts().unsynced).toBe(1);
    const got = await drain(ws, (rs) => rs.flatMap(evs).length === 100);
    expect(got.flatMap(evs)).toEqual(Array.from({ length: 100 }, (_, i) => `PUT a@${i + 2}`));
  });

  it('answers progress requests only when caught up', async () => {
    const ws = st.newWatchStream();
    const id = ws.watch({ key: b('a') });
    st.put(b('x'), b('1'));
    ws.requestProgress(id);
    expect(await ws.recv()).toMatchObject({ watchId: id, events: [], revision: 2 });
    expect(ws.requestProgressAll()).toBe(true);
    expect(await ws.recv()).toMatchObject({ watchId: -1, events: [], revision: 2 });
    for (let i = 0; i < 5; i++) st.put(b('a'), b(`${i}`));
    ws.watch({ key: b('a'), startRevision: 2 });
    expect(ws.requestProgressAll()).toBe(false);
  });

  it('restores from a snapshot backend and catches watchers up from its history', async () => {
    const other = new TestDir();
    const src = new WatchableStore(other.backend());
    for (let i = 0; i < 8; i++) src.put(b(`k${i % 3}`), b(`${i}`));
    const chunks: Uint8Array[] = [];
    // What a member receives: etcd's snapshot file, imported into a backend of its own.
    for await (const c of other.backends[0]!.snapshot().chunks(boltSnapshotFormat)) chunks.push(c);
    const target = path.join(t.dir, 'snap-db');
    fs.writeFileSync(target, Buffer.concat(chunks));
    await importBoltDb({ path: target, noSync: true });
    const fresh = Backend.open({ path: target, batchInterval: 0, noSync: true });
    st.put(b('mine'), b('x')); // rev 2 here, before the snapshot replaces everything
    const ws = st.newWatchStream();
    ws.watch({ key: b('k'), rangeEnd: b('l') }); // synced, from rev 3
    st.restoreFrom(fresh);
    expect(st.rev()).toBe(src.rev());
    expect(st.range(b('mine')).kvs).toEqual([]);
    expect(st.range(b('k0'), b('k9'))).toEqual(src.range(b('k0'), b('k9')));
    const got = await drain(ws, (rs) => rs.flatMap(evs).length === 7);
    expect(got.flatMap(evs)[0]).toBe('PUT k1@3');
    await st.close();
    await fresh.close();
    st = new WatchableStore(t.backend());
    await src.close();
    await other.cleanup();
  });

  it('splits large event lists into fragments under the byte limit', () => {
    const ev = (n: number): mvccpb.Event => ({
      type: mvccpb.Event_EventType.PUT,
      kv: {
        key: b(`k${n}`),
        value: Buffer.alloc(100),
        createRevision: n,
        modRevision: n,
        version: 1,
        lease: 0n,
      },
      prevKv: undefined,
    });
    const events = Array.from({ length: 10 }, (_, i) => ev(i + 1));
    const one = mvccpb.Event.encode(events[0]!).finish().length;
    expect(eventSize(events[0]!)).toBe(one);
    const frags = fragmentEvents(events, 3 * (one + 2) + 1, eventSize);
    expect(frags.map((f) => f.length)).toEqual([3, 3, 3, 1]);
    expect(frags.flat()).toEqual(events);
    expect(fragmentEvents(events, 1e6, eventSize)).toHaveLength(1);
    expect(fragmentEvents([events[0]!], 1, eventSize)).toHaveLength(1);
  });
});

// A WatchCreateRequest's start_revision is an int64 any client may send: none may throw
// inside a timer, where nothing catches it and the process exits.
describe('hostile start revisions', () => {
  const errorsOf = () => {
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (_o: object, msg: string) => errors.push(msg) };
    return { errors, logger };
  };
  const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

  it('start revision -1 on a store never compacted follows from the next revision (etcd 3.4)', async () => {
    await st.close();
    const { errors, logger } = errorsOf();
    st = new WatchableStore(t.backend(), { syncInterval: 1, logger });
    st.put(b('a'), b('0'));
    st.put(b('a'), b('1'));
    const ws = st.newWatchStream();
    const id = ws.watch({ key: b('a'), startRevision: -1 });
    // Synced at once: a write right after the create is not lost (etcd 3.4 misses those
    // that come before its next sync pass, up to 100 ms later).
    expect(st.watcherCounts()).toEqual({ synced: 1, unsynced: 0, victims: 0 });
    st.put(b('a'), b('2'));
    const r = await ws.recv();
    expect(r).toMatchObject({ watchId: id, revision: 4, compactRevision: 0 });
    expect(evs(r)).toEqual(['PUT a@4']);
    await sleep(10); // sync passes run meanwhile
    expect(st.syncWatchers()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a negative start revision below the compact revision is cancelled as compacted (etcd 3.4)', async () => {
    for (let i = 0; i < 3; i++) st.put(b('a'), b(`${i}`));
    const ws = st.newWatchStream();
    // The compact revision is -1 until the first compaction: -2 and below are under it.
    const far = ws.watch({ key: b('a'), startRevision: -1_000_000 });
    expect(await ws.recv()).toMatchObject({ watchId: far, compactRevision: -1, events: [] });
    await st.compact(2);
    const neg = ws.watch({ key: b('a'), startRevision: -1 });
    expect(await ws.recv()).toMatchObject({ watchId: neg, compactRevision: 2, events: [] });
    expect(st.watcherCounts()).toEqual({ synced: 0, unsynced: 0, victims: 0 });
    // Start revision 0 is still "from the next revision" on a compacted store.
    const zero = ws.watch({ key: b('a'), startRevision: 0 });
    st.put(b('a'), b('x'));
    expect(await ws.recv()).toMatchObject({ watchId: zero, compactRevision: 0 });
  });

  it('refuses a start revision that is not a safe integer where the watch is created', () => {
    const ws = st.newWatchStream();
    for (const bad of [Number.NaN, 1.5, -0.5, 2 ** 53, -(2 ** 53), Number.POSITIVE_INFINITY])
      expect(() => ws.watch({ key: b('a'), startRevision: bad })).toThrow(RangeError);
    expect(ws.ids()).toEqual([]);
    expect(st.watcherCounts()).toEqual({ synced: 0, unsynced: 0, victims: 0 });
    // The largest safe revision is a future one: accepted, synced, nothing due yet.
    expect(ws.watch({ key: b('a'), startRevision: Number.MAX_SAFE_INTEGER })).toBe(0);
    st.put(b('a'), b('1'));
    expect(ws.tryRecv()).toBeUndefined();
    expect(st.watcherCounts()).toEqual({ synced: 1, unsynced: 0, victims: 0 });
  });

  it('a watch from a future revision survives a restore to a store with less history', async () => {
    await st.close();
    const { errors, logger } = errorsOf();
    st = new WatchableStore(t.backend(), { syncInterval: 1, logger });
    const other = new TestDir();
    const src = new WatchableStore(other.backend());
    for (let i = 0; i < 5; i++) src.put(b(`k${i}`), b(`${i}`));
    const chunks: Uint8Array[] = [];
    for await (const c of other.backends[0]!.snapshot().chunks(boltSnapshotFormat)) chunks.push(c);
    const target = path.join(t.dir, 'snap-db');
    fs.writeFileSync(target, Buffer.concat(chunks));
    await importBoltDb({ path: target, noSync: true });
    const fresh = Backend.open({ path: target, batchInterval: 0, noSync: true });
    for (let i = 0; i < 10; i++) st.put(b('k'), b(`${i}`)); // rev 11 here, 6 in the snapshot
    const ws = st.newWatchStream();
    const id = ws.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 9 }); // in history
    const future = ws.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 8 + 10 });
    await drain(ws, (rs) => rs.flatMap(evs).length === 3);
    st.restoreFrom(fresh);
    expect(st.rev()).toBe(6);
    // Several sync passes (1 ms apart): the future watch waits in synced, nothing throws.
    await sleep(20);
    expect(st.watcherCounts()).toEqual({ synced: 2, unsynced: 0, victims: 0 });
    expect(ws.tryRecv()).toBeUndefined();
    for (let rev = st.rev() + 1; rev <= 18; rev++) st.put(b('k'), b(`${rev}`));
    const got = await drain(ws, (rs) => rs.some((r) => r.watchId === future));
    expect(got.filter((r) => r.watchId === future).flatMap(evs)).toEqual(['PUT k@18']);
    expect(got.filter((r) => r.watchId === id).flatMap(evs)).toContain('PUT k@17');
    expect(errors).toEqual([]);
    await st.close();
    await fresh.close();
    st = new WatchableStore(t.backend());
    await src.close();
    await other.cleanup();
  });

  it('a sync pass that throws is logged and retried, never thrown from its timer', async () => {
    await st.close();
    const { errors, logger } = errorsOf();
    st = new WatchableStore(t.backend(), { syncInterval: 1, logger });
    for (let i = 0; i < 5; i++) st.put(b('a'), b(`${i}`));
    const spy = vi.spyOn(st, 'syncWatchers').mockImplementationOnce(() => {
      throw new Error('injected');
    });
    const ws = st.newWatchStream();
    ws.watch({ key: b('a'), startRevision: 2 });
    const got = await drain(ws, (rs) => rs.flatMap(evs).length === 5);
    expect(got.flatMap(evs)).toEqual(['PUT a@2', 'PUT a@3', 'PUT a@4', 'PUT a@5', 'PUT a@6']);
    expect(errors).toEqual(['failed to sync watchers']);
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
    spy.mockRestore();
  });
});

// Every watcher sees every event of its range from its start revision exactly once, in
// revision order, without gaps — while writes, txns and compactions run concurrently and
// readers drain at random paces through small channels.
it('delivers every event exactly once, in order, under concurrent writes and compaction', async () => {
  const seed = testSeed('watch delivery test');
  const r = rng(seed);
  await st.close();
  st = new WatchableStore(t.backend({ batchLimit: 50 }), {
    syncInterval: 2,
    victimInterval: 1,
    syncBatchEntries: 40,
    compactionBatchLimit: 10,
    compactionSleepInterval: 1,
  });
  const keys = ['a', 'a1', 'a2', 'b', 'b1', 'c', 'd', 'e'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const log: Array<{ rev: number; key: string; type: number }> = [];
  interface W {
    ws: WatchStream;
    id: number;
    key: string;
    end: string | undefined;
    start: number;
    got: string[];
    compacted: number;
  }
  const watchers: W[] = [];
  const streams: WatchStream[] = [];
  for (let i = 0; i < 6; i++)
    streams.push(st.newWatchStream({ channelCapacity: 1 + Math.floor(r() * 4) }));
  const addWatcher = () => {
    const ws = pick(streams);
    const key = pick(keys);
    const kind = r();
    const end =
      kind < 0.4
        ? undefined
        : kind < 0.7
          ? `${key}\u00ff`
          : kind < 0.85
            ? '\u0000'
            : pick(keys.filter((k) => k > key).concat(['\u0000']));
    const past = r() < 0.5 && st.rev() > 1;
    const lo = Math.max(st.compactRev() + 1, 2);
    const start = past && lo <= st.rev() ? lo + Math.floor(r() * (st.rev() - lo + 1)) : 0;
    const id = ws.watch({
      key: b(key),
      rangeEnd: end === undefined ? undefined : Buffer.from(end, 'latin1'),
      startRevision: start,
    });
    watchers.push({
      ws,
      id,
      key,
      end,
      start: start === 0 ? st.rev() + 1 : start,
      got: [],
      compacted: 0,
    });
  };
  const covers = (w: W, key: string) =>
    w.end === undefined ? key === w.key : key >= w.key && (w.end === '\u0000' || key < w.end);
  const pump = () => {
    for (const ws of streams) {
      const n = Math.floor(r() * 8);
      for (let i = 0; i < n; i++) {
        const resp = ws.tryRecv();
        if (resp === undefined) break;
        const w = watchers.find((x) => x.ws === ws && x.id === resp.watchId)!;
        if (resp.compactRevision !== 0) w.compacted = resp.compactRevision;
        for (const e of resp.events) w.got.push(`${e.type}:${s(e.kv!.key)}@${e.kv!.modRevision}`);
      }
    }
  };
  let compaction: Promise<void> = Promise.resolve();
  for (let step = 0; step < 600; step++) {
    const x = r();
    if (x < 0.05 || watchers.length < 5) addWatcher();
    else if (x < 0.55) {
      const tw = st.write();
      const n = 1 + Math.floor(r() * 3);
      const used = new Set<string>();
      for (let i = 0; i < n; i++) {
        const k = pick(keys);
        if (used.has(k)) continue;
        used.add(k);
        if (r() < 0.8) tw.put(b(k), b(`${step}`));
        else tw.deleteRange(b(k), undefined);
      }
      const changes = tw
        .changes()
        .map((c) => ({ key: s(c.key), type: c.createRevision === 0 ? 1 : 0 }));
      tw.end();
      for (const c of changes) log.push({ rev: st.rev(), ...c });
    } else if (x < 0.58 && st.rev() - 100 > st.compactRev()) {
      compaction = st.compact(st.rev() - 100);
    } else if (x < 0.75) {
      pump();
    } else {
      await new Promise((res) => setTimeout(res, 1));
      pump();
    }
  }
  await compaction;
  const finalRev = st.rev();
  // Drain until every watcher has everything up to the final revision (or was compacted).
  const expected = (w: W) =>
    log
      .filter((e) => e.rev >= w.start && covers(w, e.key))
      .map((e) => `${e.type}:${e.key}@${e.rev}`);
  const deadline = Date.now() + 20_000;
  while (watchers.some((w) => w.compacted === 0 && w.got.length < expected(w).length)) {
    if (Date.now() > deadline) break;
    for (const ws of streams) {
      for (let resp = ws.tryRecv(); resp !== undefined; resp = ws.tryRecv()) {
        const w = watchers.find((x) => x.ws === ws && x.id === resp!.watchId)!;
        if (resp.compactRevision !== 0) w.compacted = resp.compactRevision;
        for (const e of resp.events) w.got.push(`${e.type}:${s(e.kv!.key)}@${e.kv!.modRevision}`);
      }
    }
    await new Promise((res) => setTimeout(res, 2));
  }
  let compactedCount = 0;
  for (const w of watchers) {
    const want = expected(w);
    if (w.compacted !== 0) {
      compactedCount++;
      expect(
        w.start,
        `seed ${seed}: compacted watcher started at or after compaction`,
      ).toBeLessThan(w.compacted);
      expect(want.slice(0, w.got.length), `seed ${seed} watcher ${w.key}..${w.end}`).toEqual(w.got);
    } else {
      expect(
        w.got,
        `seed ${seed} watcher ${w.key}..${w.end} from ${w.start} (final ${finalRev})`,
      ).toEqual(want);
    }
  }
  console.log(
    `watch delivery test: ${watchers.length} watchers, ${compactedCount} cancelled by compaction, ` +
      `${watchers.reduce((n, w) => n + w.got.length, 0)} events delivered, final revision ${finalRev}, compacted at ${st.compactRev()}`,
  );
  expect(watchers.length - compactedCount).toBeGreaterThan(0);
  for (const ws of streams) ws.close();
}, 60_000);
