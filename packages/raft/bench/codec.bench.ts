// Speed of the raftpb codec on the shapes the WAL and the transport see:
// 128-byte entries, and MsgApp messages carrying 64 of them.
//
//   pnpm --filter @etcd-ts/raft bench    (runs this after the throughput benchmark)

import {
  decodeEntry,
  decodeMessage,
  type Entry,
  encodeEntry,
  encodeEntryInto,
  encodeMessage,
  entrySize,
  MessageType,
  newMessage,
} from '../src/index.js';

const payload = new Uint8Array(128).fill(1);
const entries: Entry[] = Array.from({ length: 64 }, (_, i) => ({
  term: 7,
  index: 1_000_000 + i,
  type: 0,
  data: payload,
}));
const msg = newMessage({
  type: MessageType.MsgApp,
  to: 2n,
  from: 1n,
  term: 7,
  logTerm: 7,
  index: 999_999,
  commit: 999_990,
  entries,
});

function measure(name: string, ops: number, per: number, f: () => void): void {
  for (let i = 0; i < ops / 10; i++) f(); // warm up
  // CPU time of this (single-threaded) loop: robust against other load on the machine.
  const c0 = process.cpuUsage();
  for (let i = 0; i < ops; i++) f();
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / ops;
  console.log(
    `${name}: ${(ns / per).toFixed(0)} ns of CPU per entry (${Math.round((1e9 / ns) * per).toLocaleString('en-US')} entries/s)`,
  );
}

let sink = 0;
measure('encodeEntry (128-byte data)', 1_000_000, 1, () => {
  sink += encodeEntry(entries[sink & 63]!).length;
});
const buf = new Uint8Array(1 << 20);
measure('encodeEntryInto a shared buffer', 1_000_000, 1, () => {
  const e = entries[sink & 63]!;
  sink += encodeEntryInto(e, buf, 0) + entrySize(e);
});
const encEntry = encodeEntry(entries[0]!);
measure('decodeEntry', 1_000_000, 1, () => {
  sink += decodeEntry(encEntry).index;
});
measure('encodeMessage (MsgApp, 64 entries)', 20_000, 64, () => {
  sink += encodeMessage(msg).length;
});
const encMsg = encodeMessage(msg);
measure('decodeMessage (MsgApp, 64 entries)', 20_000, 64, () => {
  sink += decodeMessage(encMsg).entries.length;
});
if (sink === 42) console.log('');
