// A deterministic simulation of a raft group: members driven through RawNode
// exactly as an application drives them (persist, send, apply, advance), on
// a seeded network that drops, duplicates, delays and reorders messages,
// partitions and heals, while members crash and restart (keeping what they
// persisted, losing the rest) and the workload proposes, reads, transfers
// leadership and changes membership (learners, promotions, removals, joint
// consensus). After every step it checks Raft's safety properties; at the
// end it heals everything and checks that the group makes progress again.
//
// Everything derives from one seed, so a failure replays exactly.

import { decodeConfChange, decodeConfChangeV2, encodeConfChangeV2 } from '../codec.js';
import { ErrProposalDropped, ErrSnapOutOfDate, ErrStepPeerNotFound } from '../errors.js';
import { NONE, StateType } from '../raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  newConfState,
} from '../raftpb.js';
import { RawNode, type Ready, SnapshotStatus } from '../rawnode.js';
import { ReadOnlyOption } from '../read_only.js';
import { MemoryStorage } from '../storage.js';
import { describeMessage } from '../util.js';

/** A small, fast, seedable PRNG (mulberry32). */
export class Rand {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

export interface SimOptions {
  seed: number;
  /** Initial voters (3 or 5). */
  nodes: number;
  /** Ticks of chaos before healing. */
  chaosTicks: number;
  /** Ticks after healing within which a leader must be elected and a proposal committed. */
  livenessBound: number;
  /** Lines of trace kept for the failure report. */
  traceLines: number;
}

export class SimulationFailure extends Error {
  override name = 'SimulationFailure';
  constructor(
    message: string,
    readonly seed: number,
    readonly trace: string[],
  ) {
    super(message);
  }
  report(): string {
    return `simulation failed (seed ${this.seed}): ${this.message}\n--- last ${this.trace.length} trace lines ---\n${this.trace.join('\n')}\n--- reproduce with SEED=${this.seed} ---`;
  }
}

// 32-bit hash mixing for log prefixes and state machine states.
function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 0;
}

function entryKey(e: Entry): number {
  let h = mix(e.term, e.type);
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = mix(h, d[i]!);
  return mix(h, d.length);
}

/** The application's state: the hash of everything applied, up to `index`. */
interface StateMachine {
  index: number;
  hash: number;
  confState: ConfState;
}

function encodeSM(sm: StateMachine): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setFloat64(0, sm.index);
  v.setUint32(8, sm.hash);
  return b;
}

function decodeSM(b: Uint8Array, cs: ConfState): StateMachine {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { index: v.getFloat64(0), hash: v.getUint32(8), confState: cs };
}

interface Member {
  id: bigint;
  /** Undefined while crashed. */
  node: RawNode | undefined;
  /** What survives a crash: the persisted log, hard state and snapshot... */
  storage: MemoryStorage;
  /** ...and the applied state (applied synchronously, as a backend commit would be). */
  sm: StateMachine;
  /** Once removed from the group (its removal applied by the leader), it is stopped for good. */
  retired: boolean;
}

interface InFlight {
  at: number;
  seq: number;
  m: Message;
}

interface PendingRead {
  minIndex: number;
  node: bigint;
}

export interface SimStats {
  ticks: number;
  committed: number;
  reads: number;
  leaders: number;
  confChanges: number;
  crashes: number;
  snapshots: number;
}

const ELECTION = 10;
const HEARTBEAT = 1;

export class Simulation {
  private readonly rnd: Rand;
  private readonly members = new Map<bigint, Member>();
  private nextId: bigint;
  private now = 0;
  private seq = 0;
  private inflight: InFlight[] = [];
  /** Blocked directed links "a-b". */
  private blocked = new Set<string>();
  private dropRate = 0;
  private dupRate = 0;
  private maxDelay = 3;
  /** Probability of crashing in the middle of handling a Ready (between persisting and sending). */
  private crashMidReady = 0;
  private readonly trace: string[] = [];
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxUncommitted: number;
  private readonly maxInflightBytes: number;
  private readonly disableForwarding: boolean;
  private proposalSeq = 0;
  private readSeq = 0;

  // Global knowledge for the invariants.
  private readonly leaderOfTerm = new Map<number, bigint>();
  /** Hash of the log prefix ending at (index, term), first seen. */
  private readonly prefixHash = new Map<number, number>();
  /** Each member's chained log hash by index (for its recent entries). */
  private readonly memberHashes = new Map<bigint, Map<number, number>>();
  /** State machine hash after applying index i, first seen. */
  private readonly appliedHash = new Map<number, number>();
  /** Committed index → term of the entry there, and the lowest term at which it was known committed. */
  private readonly committed = new Map<number, { term: number; seenAt: number }>();
  private maxCommitted = 0;
  private readonly reads = new Map<string, PendingRead>();
  private readonly stats: SimStats = {
    ticks: 0,
    committed: 0,
    reads: 0,
    leaders: 0,
    confChanges: 0,
    crashes: 0,
    snapshots: 0,
  };

  constructor(private readonly opts: SimOptions) {
    this.rnd = new Rand(opts.seed);
    this.preVote = this.rnd.chance(0.5);
    this.checkQuorum = this.rnd.chance(0.5);
    this.maxSizePerMsg = this.rnd.pick([0, 64, 1024, 1 << 20]);
    this.maxInflight = this.rnd.pick([1, 4, 64]);
    this.maxUncommitted = this.rnd.pick([0, 256, 4096]);
    this.maxInflightBytes = this.rnd.pick([0, 0, 100, 2048]);
    this.disableForwarding = this.rnd.chance(0.2);
    const voters: bigint[] = [];
    for (let i = 1; i <= opts.nodes; i++) voters.push(BigInt(i));
    this.nextId = BigInt(opts.nodes + 1);
    // Members bootstrap like etcd's: the first entries of every log are the
    // AddNode changes of the initial members, so that a member added later
    // can rebuild the configuration from the log alone.
    for (const id of voters) {
      const m: Member = {
        id,
        node: undefined,
        storage: new MemoryStorage(),
        sm: { index: 0, hash: 0, confState: newConfState() },
        retired: false,
      };
      this.members.set(id, m);
      this.start(m);
      m.node!.bootstrap(voters.map((v) => ({ id: v })));
      this.handleReady(m);
    }
    this.log(
      `config: nodes=${opts.nodes} preVote=${this.preVote} checkQuorum=${this.checkQuorum} maxSizePerMsg=${this.maxSizePerMsg} maxInflight=${this.maxInflight} maxInflightBytes=${this.maxInflightBytes} maxUncommitted=${this.maxUncommitted} disableProposalForwarding=${this.disableForwarding}`,
    );
  }

  private log(line: string): void {
    this.trace.push(`[t${this.now}] ${line}`);
    if (this.trace.length > this.opts.traceLines * 2)
      this.trace.splice(0, this.trace.length - this.opts.traceLines);
  }

  private fail(msg: string): never {
    throw new SimulationFailure(msg, this.opts.seed, this.trace.slice(-this.opts.traceLines));
  }

  private start(m: Member): void {
    const r = new Rand(this.opts.seed * 31 + Number(m.id) * 7 + this.now);
    m.node = new RawNode({
      id: m.id,
      electionTick: ELECTION,
      heartbeatTick: HEARTBEAT,
      storage: m.storage,
      // Like etcd: restart from the snapshot; later committed entries come out
      // again and conf changes among them are re-applied to raft.
      applied: m.storage.snapshot().metadata.index,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: this.maxInflight,
      maxUncommittedEntriesSize: this.maxUncommitted,
      maxInflightBytes: this.maxInflightBytes,
      disableProposalForwarding: this.disableForwarding,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      readOnlyOption: ReadOnlyOption.ReadOnlySafe,
      rand: (n) => r.int(n),
    });
  }

  private live(): Member[] {
    const out: Member[] = [];
    for (const m of this.members.values()) if (m.node !== undefined && !m.retired) out.push(m);
    return out;
  }

  private leader(): Member | undefined {
    let best: Member | undefined;
    for (const m of this.live()) {
      const r = m.node!.raft;
      if (
        r.state === StateType.StateLeader &&
        (best === undefined || r.term > best.node!.raft.term)
      )
        best = m;
    }
    return best;
  }

  // -------------------------------------------------------------------------
  // Network.

  private send(m: Message): void {
    const key = `${m.from}-${m.to}`;
    if (this.blocked.has(key) || this.rnd.chance(this.dropRate)) {
      this.dropped(m);
      return;
    }
    this.enqueue(m);
    if (this.rnd.chance(this.dupRate)) this.enqueue(m);
  }

  private enqueue(m: Message): void {
    this.inflight.push({ at: this.now + this.rnd.int(this.maxDelay + 1), seq: this.seq++, m });
  }

  private dropped(m: Message): void {
    // The transport tells raft what it could not deliver, as etcd's does.
    const from = this.members.get(m.from);
    if (from?.node === undefined || from.retired) return;
    if (m.type === MessageType.MsgSnap)
      from.node.reportSnapshot(m.to, SnapshotStatus.SnapshotFailure);
    else if (this.rnd.chance(0.1)) from.node.reportUnreachable(m.to);
  }

  private deliverDue(): void {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.inflight) (f.at <= this.now ? due : rest).push(f);
    this.inflight = rest;
    // Reorder: deliver in a random permutation.
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rnd.int(i + 1);
      const t = due[i]!;
      due[i] = due[j]!;
      due[j] = t;
    }
    for (const f of due) this.deliver(f.m);
  }

  private deliver(m: Message): void {
    const to = this.members.get(m.to);
    if (to?.node === undefined || to.retired || this.blocked.has(`${m.from}-${m.to}`)) {
      this.dropped(m);
      return;
    }
    this.log(`deliver ${describeMessage(m)}`);
    try {
      to.node.step(m);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped) && !(err instanceof ErrStepPeerNotFound)) throw err;
    }
    if (m.type === MessageType.MsgSnap) {
      const from = this.members.get(m.from);
      if (from?.node !== undefined && !from.retired)
        from.node.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish);
    }
    this.handleReady(to);
  }

  // -------------------------------------------------------------------------
  // The application loop: persist, send, apply, advance.

  private handleReady(m: Member): void {
    for (let guard = 0; m.node?.hasReady(); guard++) {
      if (guard > 1000) this.fail(`member ${m.id} never runs out of Readys`);
      const rd = m.node.ready();
      this.persist(m, rd);
      this.checkLogMatching(m, rd);
      if (this.crashMidReady > 0 && this.rnd.chance(this.crashMidReady)) {
        // Crash after persisting, before sending or applying: the messages are
        // lost, the persisted entries are not, nothing is applied.
        this.log(
          `crash ${m.id} after persisting a Ready, before sending ${rd.messages.length} messages`,
        );
        this.crash(m);
        return;
      }
      for (const msg of rd.messages) this.send(msg);
      this.apply(m, rd);
      if (m.retired || m.node === undefined) return;
      m.node.advance(rd);
      this.observe(m, rd);
    }
  }

  private persist(m: Member, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      try {
        m.storage.applySnapshot(rd.snapshot);
      } catch (err) {
        if (!(err instanceof ErrSnapOutOfDate)) throw err;
      }
    }
    if (rd.entries.length > 0) m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
  }

  private apply(m: Member, rd: Ready): void {
    const node = m.node!;
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > m.sm.index) {
      const s = decodeSM(rd.snapshot.data, rd.snapshot.metadata.confState);
      if (s.index !== rd.snapshot.metadata.index)
        this.fail(`snapshot data index ${s.index} != metadata ${rd.snapshot.metadata.index}`);
      this.checkApplied(m, s.index, s.hash);
      m.sm = s;
      this.log(`${m.id} applied snapshot at ${s.index}`);
    }
    for (const e of rd.committedEntries) {
      const isConf = e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2;
      if (e.index <= m.sm.index) {
        // Applied before a restart: the state machine has it, but raft's
        // configuration (rebuilt from the snapshot) needs the change again.
        if (isConf) node.applyConfChange(decodeCC(e));
        continue;
      }
      if (e.index !== m.sm.index + 1)
        this.fail(`${m.id} applies ${e.index} after ${m.sm.index}: a gap`);
      const hash = mix(m.sm.hash, entryKey(e));
      let cs = m.sm.confState;
      if (isConf) {
        cs = node.applyConfChange(decodeCC(e));
        this.log(
          `${m.id} applied conf change at ${e.index}: ${JSON.stringify(cs, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
        );
        if (node.raft.state === StateType.StateLeader) this.stats.confChanges++;
        this.onConfApplied(m, m.sm.confState, cs);
      }
      m.sm = { index: e.index, hash, confState: cs };
      this.checkApplied(m, e.index, hash);
      if (isConf && m.storage.snapshot().metadata.index > 0) {
        // Once the log is compacted, a member added later catches up from the
        // snapshot, which must therefore know it: snapshot after every change.
        m.storage.createSnapshot(e.index, cs, encodeSM(m.sm));
      }
      if (m.retired) return;
    }
  }

  private checkApplied(m: Member, index: number, hash: number): void {
    const prev = this.appliedHash.get(index);
    if (prev === undefined) {
      this.appliedHash.set(index, hash);
      if (index > this.stats.committed) this.stats.committed = index;
    } else if (prev !== hash) {
      this.fail(`State Machine Safety: member ${m.id} applied a different state at index ${index}`);
    }
  }

  /**
   * Members removed by a change are stopped for good once the leader (or the
   * member itself) applies the removal, as etcd's server does; the change is
   * committed then, so the group no longer needs them.
   */
  private onConfApplied(m: Member, prev: ConfState, cs: ConfState): void {
    const ids = (c: ConfState) =>
      new Set([...c.voters, ...c.learners, ...c.votersOutgoing, ...c.learnersNext]);
    const now = ids(cs);
    const removed = [...ids(prev)].filter((id) => !now.has(id));
    if (removed.length === 0) return;
    if (m.node!.raft.state !== StateType.StateLeader && !removed.includes(m.id)) return;
    for (const id of removed) {
      const other = this.members.get(id);
      if (other === undefined || other.retired) continue;
      this.log(`retire ${id} (removed from the configuration)`);
      other.retired = true;
      other.node = undefined;
    }
  }

  /** Checks run after each Ready. */
  private observe(m: Member, rd: Ready): void {
    const r = m.node?.raft;
    if (r === undefined) return;
    // Election Safety: at most one leader per term.
    if (r.state === StateType.StateLeader) {
      const prev = this.leaderOfTerm.get(r.term);
      if (prev === undefined) {
        this.leaderOfTerm.set(r.term, m.id);
        this.stats.leaders++;
        this.log(`${m.id} is leader at term ${r.term}`);
        this.checkLeaderCompleteness(m);
      } else if (prev !== m.id) {
        this.fail(`Election Safety: ${prev} and ${m.id} are both leaders of term ${r.term}`);
      }
    }
    // Committed entries are recorded with the term at which they were known committed.
    const commit = r.raftLog.committed;
    if (commit > this.maxCommitted) {
      for (let i = Math.max(this.maxCommitted + 1, r.raftLog.firstIndex()); i <= commit; i++) {
        this.committed.set(i, { term: r.raftLog.term(i), seenAt: r.term });
      }
      this.maxCommitted = commit;
    }
    // ReadIndex results must not be older than what was committed when asked.
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.requestCtx).toString('latin1');
      const pending = this.reads.get(key);
      if (pending === undefined) continue; // a duplicate answer
      if (rs.index < pending.minIndex) {
        this.fail(
          `ReadIndex: read ${key} answered at ${rs.index} but ${pending.minIndex} was committed when it was asked`,
        );
      }
      this.reads.delete(key);
      this.stats.reads++;
    }
  }

  /**
   * Log Matching: two logs with an entry of the same index and term agree on
   * every entry up to it. Each member's log is exactly the sequence of what
   * its Readys handed out (entries, possibly overwriting a suffix, and
   * snapshots), so we follow it incrementally with a chained hash per index
   * and compare each (index, term) with the first prefix hash ever seen.
   */
  private checkLogMatching(m: Member, rd: Ready): void {
    const hashes = this.memberHashes.get(m.id) ?? new Map<number, number>();
    this.memberHashes.set(m.id, hashes);
    if (rd.snapshot !== undefined) {
      const md = rd.snapshot.metadata;
      hashes.clear();
      const h = this.prefixHash.get(pkey(md.index, md.term));
      if (h !== undefined) hashes.set(md.index, h);
    }
    if (rd.entries.length === 0) return;
    const first = rd.entries[0]!.index;
    let h = first === 1 ? 0 : hashes.get(first - 1);
    // Forget the overwritten suffix.
    for (const k of hashes.keys()) if (k >= first) hashes.delete(k);
    if (h === undefined) return; // anchored in a snapshot from before any record
    for (const e of rd.entries) {
      h = mix(h, entryKey(e));
      hashes.set(e.index, h);
      const key = pkey(e.index, e.term);
      const prev = this.prefixHash.get(key);
      if (prev === undefined) this.prefixHash.set(key, h);
      else if (prev !== h)
        this.fail(
          `Log Matching: member ${m.id} has entry ${e.index}/${e.term} with a different prefix`,
        );
    }
    // Keep the map small: old indexes are covered by the records already made.
    if (hashes.size > 256) {
      const cut = rd.entries[rd.entries.length - 1]!.index - 128;
      for (const k of hashes.keys()) if (k < cut) hashes.delete(k);
    }
  }

  /** Leader Completeness: a new leader has every entry committed in an earlier term. */
  private checkLeaderCompleteness(m: Member): void {
    const r = m.node!.raft;
    const log = r.raftLog;
    for (const [i, c] of this.committed) {
      if (c.seenAt >= r.term) continue;
      if (i < log.firstIndex() - 1) continue; // compacted into the snapshot, whose prefix is checked
      if (i > log.lastIndex() || log.zeroTermOnOutOfBounds(i) !== c.term) {
        this.fail(
          `Leader Completeness: leader ${m.id} of term ${r.term} lacks entry ${i} (term ${c.term}) committed at term ${c.seenAt}`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------
  // Workload and faults.

  private propose(m: Member): void {
    const data = new TextEncoder().encode(`p${this.proposalSeq++}:${'x'.repeat(this.rnd.int(40))}`);
    try {
      m.node!.propose(data);
      this.log(`${m.id} propose ${this.proposalSeq - 1}`);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped)) throw err;
      this.log(`${m.id} propose ${this.proposalSeq - 1}: dropped`);
    }
    this.handleReady(m);
  }

  private readIndex(m: Member): void {
    const key = `r${this.readSeq++}`;
    this.reads.set(key, { minIndex: this.maxCommitted, node: m.id });
    this.log(`${m.id} readIndex ${key} (min ${this.maxCommitted})`);
    m.node!.readIndex(new TextEncoder().encode(key));
    this.handleReady(m);
  }

  private transferLeader(): void {
    const l = this.leader();
    if (l === undefined) return;
    const voters = l.node!.raft.prs.voterNodes().filter((id) => id !== l.id);
    if (voters.length === 0) return;
    const to = this.rnd.pick(voters);
    this.log(`${l.id} transferLeader to ${to}`);
    l.node!.transferLeader(to);
    this.handleReady(l);
  }

  private changeMembership(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cfg = l.node!.raft.prs.config;
    const voters = [...cfg.voters[0]];
    const learners = [...cfg.learners];
    let cc: ConfChangeV2 | undefined;
    if (cfg.voters[1].size > 0) {
      // Joint: leave it (needed when it was entered explicitly).
      cc = {
        transition: ConfChangeTransition.ConfChangeTransitionAuto,
        changes: [],
        context: new Uint8Array(0),
      };
    } else {
      const total = this.members.size;
      const choice = this.rnd.int(5);
      if (choice === 0 && total < 9) {
        const id = this.nextId++;
        const storage = new MemoryStorage();
        const nm: Member = {
          id,
          node: undefined,
          storage,
          sm: { index: 0, hash: 0, confState: newConfState() },
          retired: false,
        };
        this.members.set(id, nm);
        this.start(nm);
        cc = single(ConfChangeType.ConfChangeAddLearnerNode, id);
      } else if (choice === 1 && learners.length > 0) {
        cc = single(ConfChangeType.ConfChangeAddNode, this.rnd.pick(learners));
      } else if (choice === 2 && voters.length > 3) {
        cc = single(ConfChangeType.ConfChangeRemoveNode, this.rnd.pick(voters));
      } else if (choice === 3 && voters.length > 3) {
        cc = single(ConfChangeType.ConfChangeAddLearnerNode, this.rnd.pick(voters));
      } else if (choice === 4 && learners.length > 0 && voters.length >= 3) {
        // Joint consensus: promote a learner and demote a voter at once.
        const up = this.rnd.pick(learners);
        const down = this.rnd.pick(voters);
        cc = {
          transition: this.rnd.chance(0.5)
            ? ConfChangeTransition.ConfChangeTransitionAuto
            : ConfChangeTransition.ConfChangeTransitionJointExplicit,
          changes: [
            { type: ConfChangeType.ConfChangeAddNode, nodeId: up },
            {
              type: this.rnd.chance(0.5)
                ? ConfChangeType.ConfChangeAddLearnerNode
                : ConfChangeType.ConfChangeRemoveNode,
              nodeId: down,
            },
          ],
          context: new Uint8Array(0),
        };
      } else if (learners.length > 1) {
        cc = single(ConfChangeType.ConfChangeRemoveNode, this.rnd.pick(learners));
      }
    }
    if (cc === undefined) return;
    this.log(
      `${l.id} proposeConfChange ${JSON.stringify(cc, (_k, v) => (typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? undefined : v))}`,
    );
    try {
      l.node!.proposeConfChange(cc);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped)) throw err;
    }
    this.handleReady(l);
  }

  private crash(m: Member): void {
    this.log(`crash ${m.id} (persisted last index ${m.storage.lastIndex()})`);
    m.node = undefined;
    this.stats.crashes++;
  }

  private restart(m: Member): void {
    this.log(`restart ${m.id}`);
    // A snapshot persisted but not applied before the crash: the state
    // machine recovers from it (as etcd recovers its backend from the snapshot).
    const snap = m.storage.snapshot();
    if (snap.metadata.index > m.sm.index) {
      const s = decodeSM(snap.data, snap.metadata.confState);
      this.checkApplied(m, s.index, s.hash);
      m.sm = s;
      this.log(`${m.id} recovered its state machine from the snapshot at ${s.index}`);
    }
    this.start(m);
    this.handleReady(m);
  }

  private compact(m: Member): void {
    const applied = m.sm.index;
    const snap = m.storage.snapshot();
    if (applied <= snap.metadata.index + 5) return;
    m.storage.createSnapshot(applied, m.sm.confState, encodeSM(m.sm));
    const keep = this.rnd.int(5);
    if (applied - keep > m.storage.firstIndex()) m.storage.compact(applied - keep);
    this.stats.snapshots++;
    this.log(`${m.id} snapshot and compact at ${applied} (keep ${keep})`);
  }

  private partition(): void {
    const ids = this.live().map((m) => m.id);
    if (ids.length < 2) return;
    this.blocked.clear();
    // Split the members in two random groups.
    const a = ids.filter(() => this.rnd.chance(0.5));
    for (const x of a) {
      for (const y of ids) {
        if (a.includes(y)) continue;
        this.blocked.add(`${x}-${y}`);
        this.blocked.add(`${y}-${x}`);
      }
    }
    this.log(`partition [${a.join(' ')}] | [${ids.filter((x) => !a.includes(x)).join(' ')}]`);
  }

  private tickAll(): void {
    this.now++;
    this.stats.ticks++;
    for (const m of this.live()) {
      m.node!.tick();
      this.handleReady(m);
    }
    this.deliverDue();
  }

  /** One step of chaos. */
  private chaosStep(): void {
    const r = this.rnd.next();
    const live = this.live();
    if (r < 0.35) {
      // Propose on a random member (followers forward to the leader).
      if (live.length > 0) this.propose(this.rnd.pick(live));
    } else if (r < 0.45) {
      if (live.length > 0) this.readIndex(this.rnd.pick(live));
    } else if (r < 0.47) {
      this.transferLeader();
    } else if (r < 0.5) {
      this.changeMembership();
    } else if (r < 0.52) {
      this.partition();
    } else if (r < 0.55) {
      this.blocked.clear();
      this.log('heal partitions');
    } else if (r < 0.57) {
      if (live.length > 0) this.crash(this.rnd.pick(live));
    } else if (r < 0.62) {
      const down = [...this.members.values()].filter((m) => m.node === undefined && !m.retired);
      if (down.length > 0) this.restart(this.rnd.pick(down));
    } else if (r < 0.66) {
      if (live.length > 0) this.compact(this.rnd.pick(live));
    } else if (r < 0.68) {
      this.dropRate = this.rnd.pick([0, 0.05, 0.2]);
      this.dupRate = this.rnd.pick([0, 0.05, 0.2]);
      this.maxDelay = this.rnd.pick([0, 1, 3, 8]);
      this.crashMidReady = this.rnd.pick([0, 0, 0.001, 0.01]);
      this.log(
        `network: drop=${this.dropRate} dup=${this.dupRate} maxDelay=${this.maxDelay} crashMidReady=${this.crashMidReady}`,
      );
    }
  }

  /** Runs the whole scenario; throws SimulationFailure on a violated property. */
  run(): SimStats {
    try {
      for (let t = 0; t < this.opts.chaosTicks; t++) {
        const steps = this.rnd.int(3);
        for (let i = 0; i < steps; i++) this.chaosStep();
        this.tickAll();
      }
      this.healAndCheckLiveness();
    } catch (err) {
      if (err instanceof SimulationFailure) throw err;
      this.fail(
        `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
    return this.stats;
  }

  private healAndCheckLiveness(): void {
    this.log('=== heal: no partitions, no drops, every member restarted ===');
    this.crashMidReady = 0;
    this.blocked.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelay = 1;
    for (const m of this.members.values()) if (m.node === undefined && !m.retired) this.restart(m);
    const start = this.now;
    const before = this.maxCommitted;
    let proposed: string | undefined;
    while (this.now - start < this.opts.livenessBound) {
      this.tickAll();
      const l = this.leader();
      if (l === undefined) continue;
      const cfg = l.node!.raft.prs.config;
      if (cfg.voters[1].size > 0 && !cfg.autoLeave && this.now % 5 === 0) this.changeMembership();
      if (proposed === undefined || this.now % 10 === 0) {
        proposed = `final-${this.now}`;
        try {
          l.node!.propose(new TextEncoder().encode(proposed));
        } catch (err) {
          if (!(err instanceof ErrProposalDropped)) throw err;
        }
        this.handleReady(l);
      }
      // Done when the leader has applied a proposal made after the heal, and
      // nothing committed before was lost.
      // (A new leader knows the true commit index only once it commits an entry of its term.)
      if (
        l.node!.raft.committedEntryInCurrentTerm() &&
        l.sm.index > before &&
        this.appliedProposalSince(l, before, proposed)
      ) {
        this.checkNothingLost(l);
        return;
      }
    }
    this.fail(
      `liveness: no leader committed a proposal within ${this.opts.livenessBound} ticks after healing`,
    );
  }

  private appliedProposalSince(l: Member, before: number, _key: string): boolean {
    const log = l.node!.raft.raftLog;
    const lo = Math.max(before + 1, log.firstIndex());
    if (l.sm.index < lo) return false;
    const ents = log.slice(lo, l.sm.index + 1, Number.MAX_SAFE_INTEGER);
    const dec = new TextDecoder();
    return ents.some(
      (e) => e.type === EntryType.EntryNormal && dec.decode(e.data).startsWith('final-'),
    );
  }

  private checkNothingLost(l: Member): void {
    const log = l.node!.raft.raftLog;
    if (log.committed < this.maxCommitted) {
      this.fail(
        `committed entry lost: leader ${l.id} commit ${log.committed} < ${this.maxCommitted} committed before`,
      );
    }
    for (const [i, c] of this.committed) {
      if (i < log.firstIndex()) continue;
      if (log.zeroTermOnOutOfBounds(i) !== c.term)
        this.fail(`committed entry ${i} (term ${c.term}) lost on leader ${l.id}`);
    }
  }
}

function decodeCC(e: Entry): ConfChangeV2 {
  if (e.type === EntryType.EntryConfChangeV2) return decodeConfChangeV2(e.data);
  const c = decodeConfChange(e.data);
  return { transition: 0, changes: [{ type: c.type, nodeId: c.nodeId }], context: c.context };
}

function pkey(index: number, term: number): number {
  return index * 1048576 + term;
}

function single(type: ConfChangeType, nodeId: bigint): ConfChangeV2 {
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type, nodeId }],
    context: new Uint8Array(0),
  };
}

/** Runs one seed with the standard scenario (3 or 5 members, chosen by the seed). */
export function runSeed(seed: number, overrides: Partial<SimOptions> = {}): SimStats {
  const sim = new Simulation({
    seed,
    nodes: seed % 2 === 0 ? 3 : 5,
    chaosTicks: 300,
    livenessBound: 300,
    traceLines: 300,
    ...overrides,
  });
  return sim.run();
}

export { encodeConfChangeV2, NONE };
