import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrCompacted, type WatchResponse } from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

async function take(iter: AsyncIterator<WatchResponse>, events: number): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  let seen = 0;
  while (seen < events) {
    const r = await iter.next();
    if (r.done) break;
    out.push(r.value);
    seen += r.value.events.length;
  }
  return out;
}

describe.skipIf(!haveEtcd)('watch against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('delivers puts and deletes on a key and a prefix, with prevKv', async () => {
    // Watch from the next revision: the creates travel on the watch stream, the puts on
    // unary calls, and a watcher "from now" could be created after the first put.
    const startRevision = (await f.client.get('w/')).header!.revision + 1;
    const one = f.client.watch('w/a', { prevKv: true, startRevision });
    const many = f.client.watch('w/', { prefix: true, startRevision });
    const i1 = one[Symbol.asyncIterator]();
    const i2 = many[Symbol.asyncIterator]();
    await f.client.put('w/a', '1');
    await f.client.put('w/b', '2');
    await f.client.put('w/a', '3');
    await f.client.delete('w/a');
    const got1 = (await take(i1, 3)).flatMap((r) => r.events);
    expect(got1.map((e) => [e.type, text(e.kv?.value), text(e.prevKv?.value)])).toEqual([
      [0, '1', undefined],
      [0, '3', '1'],
      [1, '', '3'],
    ]);
    const got2 = (await take(i2, 4)).flatMap((r) => r.events);
    expect(got2.map((e) => text(e.kv?.key))).toEqual(['w/a', 'w/b', 'w/a', 'w/a']);
    await i1.return?.();
    one.cancel();
    many.cancel();
  });

  it('replays history from a start revision and applies filters', async () => {
    const p = await f.client.put('h/x', 'a');
    await f.client.delete('h/x');
    await f.client.put('h/x', 'b');
    const all = f.client.watch('h/x', { startRevision: p.header!.revision });
    const events = (await take(all[Symbol.asyncIterator](), 3)).flatMap((r) => r.events);
    expect(events.map((e) => e.type)).toEqual([0, 1, 0]);
    all.cancel();
    const noDelete = f.client.watch('h/x', {
      startRevision: p.header!.revision,
      filters: { noDelete: true },
    });
    const puts = (await take(noDelete[Symbol.asyncIterator](), 2)).flatMap((r) => r.events);
    expect(puts.map((e) => text(e.kv?.value))).toEqual(['a', 'b']);
    noDelete.cancel();
  });

  it('answers requestProgress with a progress notification', async () => {
    const w = f.client.watch('p/none');
    const it = w[Symbol.asyncIterator]();
    await new Promise((r) => setTimeout(r, 200));
    const rev = (await f.client.put('other', 'x')).header!.revision;
    w.requestProgress();
    const r = await it.next();
    expect(r.done).toBe(false);
    expect(r.value.progressNotify).toBe(true);
    expect(r.value.header.revision).toBeGreaterThanOrEqual(rev);
    w.cancel();
    expect((await it.next()).done).toBe(true);
  });

  it('a progress broadcast during history replay does not skip the history', async () => {
    const first = await f.client.put('pr/k', '0');
    for (let i = 1; i < 20; i++) await f.client.put('pr/k', String(i));
    const w = f.client.watch('pr/k', { startRevision: first.header!.revision });
    // etcd 3.4 answers with the store's revision before the replay is delivered.
    w.requestProgress();
    const values: string[] = [];
    for await (const r of w) {
      for (const e of r.events) values.push(text(e.kv?.value)!);
      if (values.length === 20) break;
    }
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('ends with ErrCompacted carrying the compact revision', async () => {
    const p1 = await f.client.put('cmp', '1');
    const p2 = await f.client.put('cmp', '2');
    await f.client.compact(p2.header!.revision, { physical: true });
    const w = f.client.watch('cmp', { startRevision: p1.header!.revision });
    const err = await w
      .next()
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrCompacted);
    expect((err as ErrCompacted).compactRevision).toBe(p2.header!.revision);
  });

  it('stops when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const w = f.client.watch('ab', { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const seen: WatchResponse[] = [];
    for await (const r of w) seen.push(r);
    expect(seen).toEqual([]);
  });

  it('sees only its own keys through a namespace', async () => {
    const ns = f.client.namespace('nsw/');
    const startRevision = (await f.client.get('nsw/')).header!.revision + 1;
    const w = ns.watch('', { prefix: true, startRevision });
    const it = w[Symbol.asyncIterator]();
    await f.client.put('outside', '0');
    await f.client.put('nsw/k', '1');
    const r = await it.next();
    expect(text(r.value.events[0]?.kv?.key)).toBe('k');
    w.cancel();
  });
});

describe.skipIf(!haveEtcd)('watch fragments and progress notifications against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    // Responses above the request limit are split into fragments when asked to; idle
    // watchers that asked for it get a progress notification every second.
    f = await startFixture([
      '--max-request-bytes=100000',
      '--experimental-watch-progress-notify-interval=1s',
    ]);
  });

  it('sends periodic progress notifications to watchers that ask for them', async () => {
    const rev = (await f.client.put('pn/other', 'x')).header!.revision;
    const w = f.client.watch('pn/quiet', { progressNotify: true });
    const r = await w.next();
    expect(r.value?.progressNotify).toBe(true);
    expect(r.value?.events).toEqual([]);
    expect(r.value?.header.revision).toBeGreaterThanOrEqual(rev);
    w.cancel();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('joins a fragmented response back into one', async () => {
    // The server fragments above max-request-bytes plus 512 KiB of gRPC overhead:
    // eight 90 kB values replayed at once (720 kB) come as two fragments.
    const value = 'v'.repeat(90_000);
    const first = await f.client.put('frag/0', value);
    for (let i = 1; i < 8; i++) await f.client.put(`frag/${i}`, value);
    const w = f.client.watch('frag/', {
      prefix: true,
      startRevision: first.header!.revision,
      fragment: true,
    });
    const sizes: number[] = [];
    for await (const r of w) {
      sizes.push(r.events.length);
      if (sizes.reduce((a, b) => a + b, 0) >= 8) break;
    }
    expect(sizes).toEqual([8]);
  });
});
