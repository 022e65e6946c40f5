// A synchronous in-memory network of raft state machines for unit tests, in
// the manner of etcd raft's tests: messages are delivered one at a time until
// none are left, with per-link drops and per-type ignores.

import { ErrProposalDropped } from '../src/errors.js';
import { type Config, Raft } from '../src/raft.js';
import {
  type Entry,
  EntryType,
  type Message,
  MessageType,
  newConfState,
  newEntry,
  newMessage,
} from '../src/raftpb.js';
import { Rand } from '../src/sim/sim.js';
import { MemoryStorage } from '../src/storage.js';

/** A small deterministic PRNG: the simulator's mulberry32 as a function. */
export function prng(seed: number): () => number {
  const r = new Rand(seed);
  return () => r.next();
}

export function ids(...n: number[]): bigint[] {
  return n.map(BigInt);
}

export function storageWithPeers(voters: number[], learners: number[] = []): MemoryStorage {
  return new MemoryStorage({
    confState: newConfState({ voters: ids(...voters), learners: ids(...learners) }),
  });
}

let seedCounter = 1;

export function newTestRaft(
  id: number,
  election: number,
  heartbeat: number,
  storage: MemoryStorage,
  extra: Partial<Config> = {},
): Raft {
  const rnd = prng(seedCounter++);
  return new Raft({
    id: BigInt(id),
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxSizePerMsg: Number.MAX_SAFE_INTEGER,
    maxInflightMsgs: 256,
    rand: (n) => Math.floor(rnd() * n),
    ...extra,
  });
}

/** A member that swallows everything. */
export const BLACK_HOLE = 'blackhole' as const;

export function readMessages(r: Raft): Message[] {
  const m = r.msgs;
  r.msgs = [];
  return m;
}

export function m(
  p: Omit<Partial<Message>, 'from' | 'to'> & { from?: bigint | number; to?: bigint | number },
): Message {
  return newMessage({
    ...p,
    from: p.from === undefined ? undefined : BigInt(p.from),
    to: p.to === undefined ? undefined : BigInt(p.to),
  } as Partial<Message>);
}

export function ent(index: number, term: number, data?: string): Entry {
  return newEntry({
    index,
    term,
    data: data === undefined ? undefined : new TextEncoder().encode(data),
  });
}

export function entsWithTerms(...terms: number[]): Entry[] {
  return terms.map((t, i) => ent(i + 1, t));
}

/** A raft whose log holds entries of the given terms (and whose term is the last one). */
export function votedWithConfig(
  terms: number[],
  peers: number[],
  extra: Partial<Config> = {},
): Raft {
  const s = storageWithPeers(peers);
  s.append(entsWithTerms(...terms));
  const r = newTestRaft(1, 5, 1, s, extra);
  r.reset(terms[terms.length - 1] ?? 0);
  return r;
}

type Peer = Raft | typeof BLACK_HOLE | undefined;

export class Network {
  readonly peers = new Map<bigint, Raft | typeof BLACK_HOLE>();
  readonly storage = new Map<bigint, MemoryStorage>();
  private dropm = new Map<string, number>();
  private ignorem = new Set<MessageType>();
  private rnd = prng(42);
  /** Called on every delivered message; return false to drop it. */
  msgHook: ((m: Message) => boolean) | undefined;

  /**
   * peers[i] is member i+1: undefined for a fresh raft with default
   * settings, a Raft to use as is (its id is reset to i+1 by the caller), or
   * BLACK_HOLE.
   */
  constructor(peers: Peer[], configure: (c: Partial<Config>) => Partial<Config> = (c) => c) {
    const all = peers.map((_, i) => i + 1);
    peers.forEach((p, i) => {
      const id = BigInt(i + 1);
      if (p === undefined) {
        const s = storageWithPeers(all);
        this.storage.set(id, s);
        this.peers.set(id, newTestRaft(i + 1, 10, 1, s, configure({})));
      } else {
        this.peers.set(id, p);
      }
    });
  }

  raft(id: number): Raft {
    const p = this.peers.get(BigInt(id));
    if (!(p instanceof Raft)) throw new Error(`peer ${id} is not a raft`);
    return p;
  }

  /** Delivers msgs and everything they cause, until the network is quiet. */
  send(...msgs: Message[]): void {
    const queue = [...msgs];
    for (let steps = 0; queue.length > 0; steps++) {
      if (steps > 100_000) throw new Error('network did not quiesce');
      const msg = queue.shift()!;
      const p = this.peers.get(msg.to);
      if (p === undefined || p === BLACK_HOLE) continue;
      try {
        p.step(msg);
      } catch (err) {
        if (!(err instanceof ErrProposalDropped)) throw err;
      }
      queue.push(...this.filter(readMessages(p)));
    }
  }

  drop(from: number, to: number, perc: number): void {
    this.dropm.set(`${from}-${to}`, perc);
  }

  cut(one: number, other: number): void {
    this.drop(one, other, 2);
    this.drop(other, one, 2);
  }

  isolate(id: number): void {
    for (let i = 1; i <= this.peers.size; i++) if (i !== id) this.cut(id, i);
  }

  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  recover(): void {
    this.dropm.clear();
    this.ignorem.clear();
  }

  private filter(msgs: Message[]): Message[] {
    return msgs.filter((msg) => {
      if (this.ignorem.has(msg.type)) return false;
      if (msg.type === MessageType.MsgHup) throw new Error('unexpected MsgHup');
      const perc = this.dropm.get(`${msg.from}-${msg.to}`) ?? 0;
      if (perc > 0 && this.rnd() < perc) return false;
      if (this.msgHook !== undefined && !this.msgHook(msg)) return false;
      return true;
    });
  }
}

export const hup = (id: number) => m({ from: id, to: id, type: MessageType.MsgHup });
export const beat = (id: number) => m({ from: id, to: id, type: MessageType.MsgBeat });
export const prop = (id: number, data = 'somedata') =>
  m({ from: id, to: id, type: MessageType.MsgProp, entries: [ent(0, 0, data)] });

/** Persists a raft's unstable entries into its storage and returns its committed-but-unapplied entries. */
export function nextEnts(r: Raft, s: MemoryStorage): Entry[] {
  s.append(r.raftLog.unstableEntries());
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
  const ents = r.raftLog.nextEnts();
  r.raftLog.appliedTo(r.raftLog.committed);
  return ents;
}

export { EntryType };
