// The rebuild's second thread. The main thread walks the key bucket once, adding each key
// to the index's table; the B+ tree must then be built from the keys in byte order, and
// sorting a million keys would be a third of the rebuild. So while the main thread walks,
// it hands each batch of new keys (copied into shared memory) to this worker, which sorts
// the batch as a run; when the walk is done, the worker merges its runs and answers with
// the order of every key. The main thread meanwhile makes the keys' strings for the tree.
import { isMainThread, type MessagePort, workerData } from 'node:worker_threads';
import { mergeRuns, sortRun } from './key_table.js';

/** What the worker is started with. */
export interface RestoreOrderRequest {
  port: MessagePort;
  /** Int32 flag the worker sets to 1 (and notifies) once its answer is on the port. */
  done: SharedArrayBuffer;
}

/**
 * What the main thread sends: batches of keys in ordinal order (key `first + i` is bytes
 * [offsets[i], offsets[i + 1]) of `bytes`), then `{ keys }`, the number of keys in all.
 */
export type RestoreOrderMessage =
  | { first: number; bytes: SharedArrayBuffer; offsets: SharedArrayBuffer }
  | { keys: number };

/** What the worker answers: every key's ordinal, in byte order of the keys. */
export type RestoreOrderReply = { order: Int32Array } | { error: string };

/** The worker's state: the keys received so far (by ordinal) and their sorted runs. */
export class RunSorter {
  private readonly keys: string[] = [];
  private readonly runs: Int32Array[] = [];

  /** Takes a batch of keys with ordinals first, first+1, ...: sorts it as one run. */
  add(first: number, bytes: SharedArrayBuffer, offsets: SharedArrayBuffer): void {
    if (first !== this.keys.length)
      throw new Error(`keys from ${first}, expected ${this.keys.length}`);
    const b = Buffer.from(bytes);
    const off = new Int32Array(offsets);
    for (let i = 0; i + 1 < off.length; i++) {
      this.keys.push(b.toString('latin1', off[i], off[i + 1]));
    }
    this.runs.push(sortRun(this.keys, first, this.keys.length));
  }

  /** Every key's ordinal in byte order, once all `keys` keys have come. */
  finish(keys: number): Int32Array {
    if (keys !== this.keys.length) throw new Error(`${this.keys.length} keys of ${keys} came`);
    return mergeRuns(this.keys, this.runs);
  }
}

if (!isMainThread && (workerData as { restoreOrder?: RestoreOrderRequest })?.restoreOrder) {
  const req = (workerData as { restoreOrder: RestoreOrderRequest }).restoreOrder;
  const sorter = new RunSorter();
  let failed: string | undefined;
  const answer = (reply: RestoreOrderReply): void => {
    req.port.postMessage(reply, 'order' in reply ? [reply.order.buffer as ArrayBuffer] : []);
    const flag = new Int32Array(req.done);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    req.port.close();
  };
  req.port.on('message', (m: RestoreOrderMessage) => {
    try {
      if ('first' in m) {
        if (failed === undefined) sorter.add(m.first, m.bytes, m.offsets);
      } else if (failed !== undefined) {
        answer({ error: failed });
      } else {
        answer({ order: sorter.finish(m.keys) });
      }
    } catch (err) {
      failed = err instanceof Error ? err.message : String(err);
      if (!('first' in m)) answer({ error: failed });
    }
  });
}
