// Throughput of the raft core: three members in one process, no I/O
// (MemoryStorage, messages handed over by reference), 128-byte proposals
// batched the way a server batches them (every proposal that arrived while
// the previous Ready was being handled goes into one MsgProp). Reports
// committed entries per second and heap bytes allocated per committed entry.
//
//   pnpm --filter @etcd-ts/raft bench          (ENTRIES=n, BATCH=n to change the run)
//
// Target: >= 1,000,000 committed entries/s on one core.

import { PerformanceObserver } from 'node:perf_hooks';
import {
  EntryType,
  MemoryStorage,
  type Message,
  RawNode,
  type Ready,
  StateType,
} from '../src/index.js';

const TOTAL = Number(process.env.ENTRIES ?? 3_000_000);
const BATCH = Number(process.env.BATCH ?? 512);
const PAYLOAD = new Uint8Array(128).fill(7);
const TARGET = 1_000_000;
// Like etcd's server: compact the in-memory log every SNAPSHOT_COUNT applied
// entries, keeping CATCH_UP entries for slow followers.
const SNAPSHOT_COUNT = Number(process.env.SNAPSHOT_COUNT ?? 10_000);
const CATCH_UP = Number(process.env.CATCH_UP ?? 5_000);

interface Member {
  id: bigint;
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
  inbox: Message[];
}

function makeCluster(): Member[] {
  const ids = [1n, 2n, 3n];
  return ids.map((id) => {
    const storage = new MemoryStorage();
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      maxCommittedSizePerReady: 1 << 24,
      rand: () => 0,
    });
    node.bootstrap(ids.map((p) => ({ id: p })));
    return { id, node, storage, applied: 0, inbox: [] };
  });
}

function handleReady(m: Member, byId: Map<bigint, Member>): number {
  let committed = 0;
  while (m.node.hasReady()) {
    const rd: Ready = m.node.ready();
    if (rd.snapshot !== undefined) m.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    for (const msg of rd.messages) byId.get(msg.to)!.inbox.push(msg);
    const ce = rd.committedEntries;
    for (let i = 0; i < ce.length; i++) {
      const e = ce[i]!;
      if (e.type === EntryType.EntryConfChange) {
        // The bootstrap configuration (already applied by bootstrap()).
      }
      m.applied = e.index;
    }
    committed += ce.length;
    m.node.advance(rd);
    // Bound memory like a server does: compact what was applied, keeping a tail.
    if (m.applied - m.storage.firstIndex() > SNAPSHOT_COUNT + CATCH_UP)
      m.storage.compact(m.applied - CATCH_UP);
  }
  return committed;
}

function run(
  total: number,
  batch: number,
): { seconds: number; cpuSeconds: number; committed: number } {
  const members = makeCluster();
  const byId = new Map(members.map((m) => [m.id, m]));
  const leader = members[0]!;
  // Elect member 1.
  for (const m of members) handleReady(m, byId);
  leader.node.campaign();
  for (let round = 0; round < 10; round++) {
    for (const m of members) {
      const inbox = m.inbox;
      m.inbox = [];
      for (const msg of inbox) m.node.step(msg);
      handleReady(m, byId);
    }
  }
  if (leader.node.raft.state !== StateType.StateLeader) throw new Error('no leader');
  const startIndex = leader.applied;
  const datas: Uint8Array[] = new Array(batch).fill(PAYLOAD);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let proposed = 0;
  while (leader.applied - startIndex < total) {
    if (proposed - (leader.applied - startIndex) < 4 * batch) {
      leader.node.proposeBatch(datas);
      proposed += batch;
    }
    for (const m of members) {
      const inbox = m.inbox;
      if (inbox.length > 0) {
        m.inbox = [];
        for (let i = 0; i < inbox.length; i++) m.node.step(inbox[i]!);
      }
      handleReady(m, byId);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, committed: leader.applied - startIndex };
}

/** Heap bytes allocated per committed entry, measured over runs short enough that no GC happens. */
function allocationPerEntry(batch: number): number | undefined {
  const gcFn = (globalThis as { gc?: () => void }).gc;
  if (gcFn === undefined) return undefined;
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const samples: number[] = [];
  for (let attempt = 0; attempt < 10 && samples.length < 3; attempt++) {
    gcFn();
    const before = gcs;
    const h0 = process.memoryUsage().heapUsed;
    const r = run(20_000, batch);
    const h1 = process.memoryUsage().heapUsed;
    if (gcs === before) samples.push((h1 - h0) / r.committed);
  }
  obs.disconnect();
  return samples.length === 0 ? undefined : Math.min(...samples);
}

run(200_000, BATCH); // warm up the JIT
const r = run(TOTAL, BATCH);
// CPU time (this process, GC on the main thread only: --single-threaded-gc)
// is the "one core" figure; wall time suffers from whatever else runs.
const rate = r.committed / r.cpuSeconds;
const alloc = allocationPerEntry(BATCH);
console.log(
  `raft throughput: 3 members in one process, ${PAYLOAD.length}-byte proposals in batches of ${BATCH}: ${r.committed.toLocaleString('en-US')} entries committed in ${r.cpuSeconds.toFixed(2)}s of CPU (${r.seconds.toFixed(2)}s wall) = ${Math.round(rate).toLocaleString('en-US')} entries/s per core (wall: ${Math.round(r.committed / r.seconds).toLocaleString('en-US')}/s; target ${TARGET.toLocaleString('en-US')}: ${rate >= TARGET ? 'met' : 'NOT met'})`,
);
console.log(
  alloc === undefined
    ? 'heap allocated per entry: run with --expose-gc to measure'
    : `heap allocated per committed entry (all three members): ${Math.round(alloc)} bytes`,
);
