// Child process for the crash test: writes numbered keys in small transactions, each
// also setting meta/count, and reports every commit on stdout, until it is killed.
import { Backend } from '../src/index.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: crash-writer <db path>');
const be = Backend.open({ path: file, batchInterval: 5, batchLimit: 300 });
let n = 0;
let reported = 0;
be.addPreCommitHook(() => {
  reported = n;
});
function count(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}
function step(): void {
  for (let i = 0; i < 50; i++) {
    be.lock();
    for (let j = 0; j < 3; j++) {
      be.put('key', Buffer.from(`k${String(n).padStart(9, '0')}`), Buffer.alloc(200, n & 0xff));
      n++;
    }
    be.put('meta', Buffer.from('count'), count(n));
    const before = be.commits;
    be.unlock();
    if (be.commits !== before) process.stdout.write(`committed ${reported}\n`);
  }
  const before = be.commits;
  setImmediate(() => {
    if (be.commits !== before) process.stdout.write(`committed ${reported}\n`);
    step();
  });
}
step();
