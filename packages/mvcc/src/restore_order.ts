// The rebuild's second thread. After the main thread has walked the key bucket, every key
// is in the index's table and the B+ tree still has to be built from the keys in byte
// order; sorting a million keys is a third of the rebuild. This worker sorts one part of
// them (copied into shared memory) while the main thread sorts the rest, and
// the main thread merges the two orders. The worker starts with the rebuild, so that
// starting it costs nothing when its part arrives.
import { isMainThread, type MessagePort, workerData } from 'node:worker_threads';
import { sortOrdinals } from './key_table.js';

/** What the worker is started with. */
export interface RestoreOrderRequest {
  port: MessagePort;
  /** Int32 flag the worker sets to 1 (and notifies) once its answer is on the port. */
  done: SharedArrayBuffer;
}

/** The part to sort: key i is bytes [offsets[i], offsets[i + 1]) of `bytes`. */
export interface RestoreOrderJob {
  bytes: SharedArrayBuffer;
  offsets: SharedArrayBuffer;
}

/** What the worker answers: the part's indexes in byte order of their keys. */
export type RestoreOrderReply = { order: Int32Array } | { error: string };

/** The worker's job: the packed keys' indexes in byte order of the keys. */
export function sortPacked(job: RestoreOrderJob): Int32Array {
  const bytes = Buffer.from(job.bytes);
  const offsets = new Int32Array(job.offsets);
  const keys = new Array<string>(offsets.length - 1);
  for (let i = 0; i < keys.length; i++) {
    keys[i] = bytes.toString('latin1', offsets[i], offsets[i + 1]);
  }
  return sortOrdinals(keys);
}

if (!isMainThread && (workerData as { restoreOrder?: RestoreOrderRequest })?.restoreOrder) {
  const req = (workerData as { restoreOrder: RestoreOrderRequest }).restoreOrder;
  req.port.once('message', (job: RestoreOrderJob) => {
    let reply: RestoreOrderReply;
    try {
      reply = { order: sortPacked(job) };
    } catch (err) {
      reply = { error: err instanceof Error ? err.message : String(err) };
    }
    req.port.postMessage(reply, 'order' in reply ? [reply.order.buffer as ArrayBuffer] : []);
    const flag = new Int32Array(req.done);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    req.port.close();
  });
}
