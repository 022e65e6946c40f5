// The raftpb wire types: the same messages as etcd's raft.proto, as plain
// objects. Node ids are bigint (they use all 64 bits); terms and indexes are
// numbers (safe integers). Absent bytes fields are empty Uint8Arrays: the
// codec writes a bytes field only when it is non-empty, which is what etcd
// writes for the nil slices it produces.

/** The empty byte string, shared so that empty fields allocate nothing. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export const EntryType = {
  EntryNormal: 0,
  EntryConfChange: 1,
  EntryConfChangeV2: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export const MessageType = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const messageTypeNames: string[] = [];
for (const [name, value] of Object.entries(MessageType)) messageTypeNames[value] = name;

/** The etcd name of a message type ("MsgApp"), or its number if unknown. */
export function messageTypeName(t: number): string {
  return messageTypeNames[t] ?? String(t);
}

export const ConfChangeTransition = {
  ConfChangeTransitionAuto: 0,
  ConfChangeTransitionJointImplicit: 1,
  ConfChangeTransitionJointExplicit: 2,
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

export const ConfChangeType = {
  ConfChangeAddNode: 0,
  ConfChangeRemoveNode: 1,
  ConfChangeUpdateNode: 2,
  ConfChangeAddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface ConfState {
  /** The voters of the incoming (or only) configuration. */
  voters: bigint[];
  learners: bigint[];
  /** The voters of the outgoing configuration; non-empty only in a joint configuration. */
  votersOutgoing: bigint[];
  /** Voters of the outgoing configuration that become learners when the joint state is left. */
  learnersNext: bigint[];
  /** Whether the joint configuration is left automatically once committed. */
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

export interface Message {
  type: MessageType;
  to: bigint;
  from: bigint;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  /** Present on MsgSnap; the codec writes an empty snapshot when absent, as etcd does. */
  snapshot: Snapshot | undefined;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: bigint;
  context: Uint8Array;
  /** Unused by raft; kept for wire compatibility. */
  id: bigint;
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: bigint;
}

export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}

// Constructors that fill every field, so that objects of one type share one
// shape (which keeps property access monomorphic on the hot paths).

export function newEntry(e: Partial<Entry> = {}): Entry {
  return {
    term: e.term ?? 0,
    index: e.index ?? 0,
    type: e.type ?? EntryType.EntryNormal,
    data: e.data ?? EMPTY_BYTES,
  };
}

export function newConfState(c: Partial<ConfState> = {}): ConfState {
  return {
    voters: c.voters ?? [],
    learners: c.learners ?? [],
    votersOutgoing: c.votersOutgoing ?? [],
    learnersNext: c.learnersNext ?? [],
    autoLeave: c.autoLeave ?? false,
  };
}

export function newSnapshot(
  s: {
    data?: Uint8Array;
    metadata?: { confState?: Partial<ConfState>; index?: number; term?: number };
  } = {},
): Snapshot {
  return {
    data: s.data ?? EMPTY_BYTES,
    metadata: {
      confState: newConfState(s.metadata?.confState),
      index: s.metadata?.index ?? 0,
      term: s.metadata?.term ?? 0,
    },
  };
}

export function newMessage(m: Partial<Message> = {}): Message {
  return {
    type: m.type ?? MessageType.MsgHup,
    to: m.to ?? 0n,
    from: m.from ?? 0n,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? [],
    commit: m.commit ?? 0,
    snapshot: m.snapshot,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context ?? EMPTY_BYTES,
  };
}

export function newHardState(h: Partial<HardState> = {}): HardState {
  return { term: h.term ?? 0, vote: h.vote ?? 0n, commit: h.commit ?? 0 };
}

export function newConfChange(c: Partial<ConfChange> = {}): ConfChange {
  return {
    type: c.type ?? ConfChangeType.ConfChangeAddNode,
    nodeId: c.nodeId ?? 0n,
    context: c.context ?? EMPTY_BYTES,
    id: c.id ?? 0n,
  };
}

export function newConfChangeV2(c: Partial<ConfChangeV2> = {}): ConfChangeV2 {
  return {
    transition: c.transition ?? ConfChangeTransition.ConfChangeTransitionAuto,
    changes: c.changes ?? [],
    context: c.context ?? EMPTY_BYTES,
  };
}

export function isEmptyHardState(h: HardState): boolean {
  return h.term === 0 && h.vote === 0n && h.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

function idsEqual(a: bigint[], b: bigint[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort(cmpBigint);
  const sb = [...b].sort(cmpBigint);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return false;
  return true;
}

export function cmpBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether two ConfStates describe the same configuration (order of ids does not matter). */
export function confStateEquivalent(a: ConfState, b: ConfState): boolean {
  return (
    idsEqual(a.voters, b.voters) &&
    idsEqual(a.learners, b.learners) &&
    idsEqual(a.votersOutgoing, b.votersOutgoing) &&
    idsEqual(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave
  );
}

/** A ConfChange (V1) seen as the equivalent ConfChangeV2. */
export function confChangeAsV2(cc: ConfChange): ConfChangeV2 {
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/**
 * Whether a ConfChangeV2 asks to leave a joint configuration (it has no
 * changes); `enterJoint` says whether it enters one and, if so, whether the
 * joint state is left automatically.
 */
export function confChangeLeaveJoint(cc: ConfChangeV2): boolean {
  // The context is ignored: only the (empty) transition and changes matter.
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length === 0;
}

export function confChangeEnterJoint(cc: ConfChangeV2): { autoLeave: boolean; ok: boolean } {
  if (cc.transition !== ConfChangeTransition.ConfChangeTransitionAuto || cc.changes.length > 1) {
    switch (cc.transition) {
      case ConfChangeTransition.ConfChangeTransitionAuto:
      case ConfChangeTransition.ConfChangeTransitionJointImplicit:
        return { autoLeave: true, ok: true };
      case ConfChangeTransition.ConfChangeTransitionJointExplicit:
        return { autoLeave: false, ok: true };
      default:
        throw new Error(`unknown transition: ${cc.transition}`);
    }
  }
  return { autoLeave: false, ok: false };
}
