import { rng as mulberry32 } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import { BoundedChannel } from './channel.js';
import { LeaseQueue, type QueueItem, queueItem } from './lease_queue.js';

describe('LeaseQueue', () => {
  it('keeps one entry per lease and pops in time order', () => {
    const q = new LeaseQueue<string>();
    const [a, b, c] = [queueItem('a'), queueItem('b'), queueItem('c')];
    q.registerOrUpdate(a, 30);
    q.registerOrUpdate(b, 10);
    q.registerOrUpdate(c, 20);
    q.registerOrUpdate(b, 40); // moved later, not duplicated
    expect(q.size).toBe(3);
    expect([q.pop()?.value, q.pop()?.value, q.pop()?.value, q.pop()]).toEqual([
      'c',
      'a',
      'b',
      undefined,
    ]);
    expect(q.remove(a)).toBe(false);
    expect(() => new LeaseQueue<string>().remove({ value: 'x', time: 0, index: 0 })).toThrow();
  });

  it('matches a sorted reference under random register, update, remove and pop', () => {
    const seed = Number(process.env.LEASE_QUEUE_SEED ?? Date.now() % 2 ** 31);
    console.log(`LeaseQueue seed=${seed} (LEASE_QUEUE_SEED to reproduce)`);
    const rand = mulberry32(seed);
    const q = new LeaseQueue<number>();
    const items: QueueItem<number>[] = [];
    for (let i = 0; i < 300; i++) items.push(queueItem(i));
    const ref = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const r = rand();
      const id = Math.floor(rand() * 300);
      if (r < 0.5) {
        const t = Math.floor(rand() * 1000);
        q.registerOrUpdate(items[id]!, t);
        ref.set(id, t);
      } else if (r < 0.7) {
        expect(q.remove(items[id]!)).toBe(ref.delete(id));
      } else {
        const top = q.pop();
        if (ref.size === 0) {
          expect(top).toBeUndefined();
          continue;
        }
        const min = Math.min(...ref.values());
        expect(top?.time).toBe(min);
        expect(ref.get(top!.value)).toBe(min);
        ref.delete(top!.value);
      }
      expect(q.size).toBe(ref.size);
    }
  }, 60_000);
});

describe('BoundedChannel', () => {
  it('refuses values past its capacity and delivers queued ones after close', async () => {
    const c = new BoundedChannel<number>(2);
    expect(c.trySend(1)).toBe(true);
    expect(c.trySend(2)).toBe(true);
    expect(c.trySend(3)).toBe(false);
    c.close();
    expect(c.trySend(4)).toBe(false);
    const got: number[] = [];
    for await (const v of c) got.push(v);
    expect(got).toEqual([1, 2]);
  });

  it('wakes a waiting receiver', async () => {
    const c = new BoundedChannel<string>(1);
    const p = c.next();
    expect(c.trySend('a')).toBe(true);
    expect(await p).toEqual({ value: 'a', done: false });
    const q = c.next();
    c.close();
    expect(await q).toEqual({ value: undefined, done: true });
  });
});
