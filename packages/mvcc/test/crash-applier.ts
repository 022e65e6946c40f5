// Child process for the mvcc crash test: applies "raft entries" 1, 2, 3, ... — each sets
// the consistent index and puts one key — until it is killed.
import { Backend } from '@etcd-ts/backend';
import { KVStore } from '../src/index.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: crash-applier <db path>');
const be = Backend.open({ path: file, batchInterval: 5, batchLimit: 200 });
const st = new KVStore(be);
let index = st.consistentIndex().index;
function step(): void {
  for (let i = 0; i < 100; i++) {
    index++;
    st.setConsistentIndex(index, 1);
    const tw = st.write();
    tw.put(Buffer.from(`k${String(index).padStart(9, '0')}`), Buffer.alloc(100, index & 0xff));
    if (index % 7 === 0)
      tw.deleteRange(Buffer.from(`k${String(index - 3).padStart(9, '0')}`), undefined);
    tw.end();
  }
  process.stdout.write(`applied ${index} committed ${be.commits}\n`);
  setImmediate(step);
}
step();
