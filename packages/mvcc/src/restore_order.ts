// The key order of an index rebuild, computed on a second thread. The main thread walks
// the key bucket creating a KeyIndex per key (a hash insert each) and then needs those
// KeyIndexes in key order to bulk-load the B+ tree; sorting a million keys is a third of
// the rebuild. This worker walks the same bucket at the same time, on the other core, and
// hands back the order: for each key in byte order, the ordinal of the KeyIndex the main
// thread created for it (KeyIndexes are created, in bucket order, at a key's first entry
// that is not a tombstone — the worker applies the same rule).
import { isMainThread, type MessagePort, workerData } from 'node:worker_threads';
import { Backend } from '@etcd-ts/backend';
import { decodeKeyOnly } from './codec.js';
import { KeyTable, sortOrdinals } from './key_table.js';
import { isTombstone } from './revision.js';

/** What the worker is handed. */
export interface RestoreOrderRequest {
  path: string;
  bucket: string;
  port: MessagePort;
  /** Int32 flag the worker sets to 1 (and notifies) once its answer is on the port. */
  done: SharedArrayBuffer;
}

/** What the worker answers. */
export type RestoreOrderReply =
  | { revisions: number; created: number; order: Int32Array }
  | { error: string };

/** Walks `bucket` of the backend at `path` and computes the creation ordinals in key order. */
export function restoreOrder(path: string, bucket: string): RestoreOrderReply {
  const be = Backend.open({ path, batchInterval: 0 });
  try {
    // Each key once, numbered by its first entry that is not a tombstone: the table's
    // ordinals are exactly those numbers (nothing is ever removed from it here).
    const first = new KeyTable<string>();
    first.reserve(be.committedCount(bucket));
    let revisions = 0;
    let view: Buffer | undefined;
    be.forEach(bucket, (k, v) => {
      revisions++;
      if (isTombstone(k)) return true;
      const key = decodeKeyOnly(v);
      const h = first.hash(key, 0, key.length);
      if (first.findHashed(h, key, 0, key.length) >= 0) return true;
      if (view === undefined || view.buffer !== key.buffer) view = Buffer.from(key.buffer);
      first.add(
        view.toString('latin1', key.byteOffset, key.byteOffset + key.length),
        h,
        key,
        0,
        key.length,
      );
      return true;
    });
    const created = first.size;
    return { revisions, created, order: sortOrdinals([...first.values()]) };
  } finally {
    // Nothing was written: closing commits nothing.
    void be.close();
  }
}

if (!isMainThread && (workerData as { restoreOrder?: RestoreOrderRequest })?.restoreOrder) {
  const req = (workerData as { restoreOrder: RestoreOrderRequest }).restoreOrder;
  let reply: RestoreOrderReply;
  try {
    reply = restoreOrder(req.path, req.bucket);
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  req.port.postMessage(reply, 'order' in reply ? [reply.order.buffer as ArrayBuffer] : []);
  const flag = new Int32Array(req.done);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
