import { etcdserverpb } from '@etcd-ts/api';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b, call, type Member, removeDir, startMember } from './helpers.js';

const P = etcdserverpb;
type Stream = ClientDuplexStream<etcdserverpb.WatchRequest, etcdserverpb.WatchResponse>;

/** A watch stream whose responses can be awaited one by one. */
function open(m: Member): {
  s: Stream;
  next(pred?: (r: etcdserverpb.WatchResponse) => boolean): Promise<etcdserverpb.WatchResponse>;
} {
  const s = m.watch.watch();
  s.on('error', () => {});
  const queue: etcdserverpb.WatchResponse[] = [];
  const waiters: Array<() => void> = [];
  s.on('data', (r: etcdserverpb.WatchResponse) => {
    queue.push(r);
    for (const w of waiters.splice(0)) w();
  });
  return {
    s,
    async next(pred = () => true) {
      for (;;) {
        const i = queue.findIndex(pred);
        if (i >= 0) return queue.splice(i, 1)[0]!;
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no watch response')), 5000);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}

describe('Watch service', () => {
  let m: Member;
  beforeAll(async () => {
    m = await startMember({ maxRequestBytes: 4096, watchProgressNotifyIntervalMs: 200 });
  });
  afterAll(async () => {
    await m.close();
    removeDir(m.dir);
  });
  const put = (k: string, v: string | Buffer) =>
    call(
      m.kv.put,
      m.kv,
      P.PutRequest.fromPartial({ key: b(k), value: typeof v === 'string' ? b(v) : v }),
    );

  it('runs many watchers on one stream, with filters, cancel and progress', async () => {
    const w = open(m);
    w.s.write(P.WatchRequest.fromPartial({ createRequest: { key: b('a'), watchId: 7 } }));
    const c1 = await w.next((r) => r.created);
    expect(c1.watchId).toBe(7);
    w.s.write(
      P.WatchRequest.fromPartial({
        createRequest: { key: b('a'), filters: [P.WatchCreateRequest_FilterType.NOPUT] },
      }),
    );
    const c2 = await w.next((r) => r.created);
    expect(c2.watchId).not.toBe(7);
    // A duplicate id is refused on the stream (created and canceled at once).
    w.s.write(P.WatchRequest.fromPartial({ createRequest: { key: b('x'), watchId: 7 } }));
    const dup = await w.next((r) => r.created && r.canceled);
    expect(dup.cancelReason).toMatch(/duplicate watch ID/);
    await put('a', '1');
    await call(m.kv.deleteRange, m.kv, P.DeleteRangeRequest.fromPartial({ key: b('a') }));
    const e1 = await w.next((r) => r.watchId === 7 && r.events.length > 0);
    const seen1 = [...e1.events];
    if (seen1.length < 2)
      seen1.push(...(await w.next((r) => r.watchId === 7 && r.events.length > 0)).events);
    expect(seen1.map((e) => e.type)).toEqual([0, 1]);
    const e2 = await w.next((r) => r.watchId === c2.watchId && r.events.length > 0);
    expect(e2.events.map((e) => e.type)).toEqual([1]); // puts filtered out
    w.s.write(P.WatchRequest.fromPartial({ cancelRequest: { watchId: 7 } }));
    const cancelled = await w.next((r) => r.canceled && r.watchId === 7);
    expect(cancelled.created).toBe(false);
    w.s.write(P.WatchRequest.fromPartial({ progressRequest: {} }));
    const progress = await w.next((r) => r.watchId === -1);
    expect(progress.events).toEqual([]);
    expect(progress.header!.revision).toBeGreaterThan(0);
    w.s.end();
  });

  it('sends periodic progress notifications only to watchers that asked for them', async () => {
    const w = open(m);
    w.s.write(
      P.WatchRequest.fromPartial({ createRequest: { key: b('quiet'), progressNotify: true } }),
    );
    const created = await w.next((r) => r.created);
    w.s.write(P.WatchRequest.fromPartial({ createRequest: { key: b('silent') } }));
    const other = await w.next((r) => r.created);
    const last = await put('elsewhere', 'x');
    // Within a few intervals (200 ms here) an empty response reports the watcher's progress.
    const progress = await w.next((r) => !r.created && r.events.length === 0 && !r.canceled);
    expect(progress.watchId).toBe(created.watchId);
    expect(progress.header!.revision).toBeGreaterThanOrEqual(last.header!.revision);
    expect(progress.watchId).not.toBe(other.watchId);
    w.s.end();
  });

  it('cancels a watcher whose start revision was compacted, with the compact revision', async () => {
    const p1 = await put('c', '1');
    await put('c', '2');
    const p3 = await put('c', '3');
    await call(
      m.kv.compact,
      m.kv,
      P.CompactionRequest.fromPartial({ revision: p3.header!.revision }),
    );
    const w = open(m);
    w.s.write(
      P.WatchRequest.fromPartial({
        createRequest: { key: b('c'), startRevision: p1.header!.revision },
      }),
    );
    await w.next((r) => r.created);
    const r = await w.next((x) => x.canceled);
    expect(r.compactRevision).toBe(p3.header!.revision);
    w.s.end();
  });

  it('fragments large responses for watchers that ask', async () => {
    const w = open(m);
    const start = (await put('f/0', 'x')).header!.revision + 1;
    // Six 1 KiB puts: a watcher catching up from before them gets one response of more
    // than max-request-bytes (4 KiB here), which must go out in fragments.
    for (let i = 1; i <= 6; i++) await put(`f/${i}`, Buffer.alloc(1024, 65));
    w.s.write(
      P.WatchRequest.fromPartial({
        createRequest: { key: b('f/'), rangeEnd: b('f0'), startRevision: start, fragment: true },
      }),
    );
    await w.next((r) => r.created);
    const parts: etcdserverpb.WatchResponse[] = [];
    let events = 0;
    while (events < 6) {
      const r = await w.next((x) => x.events.length > 0);
      parts.push(r);
      events += r.events.length;
    }
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every((p) => p.fragment)).toBe(true);
    expect(parts.at(-1)!.fragment).toBe(false);
    w.s.end();
  });
});
