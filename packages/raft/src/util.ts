// Small helpers shared by the log, the state machine and the tests.

import { entrySize } from './codec.js';
import { type Entry, type Message, MessageType, messageTypeName } from './raftpb.js';

/** No limit on a size. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The longest prefix of ents whose encoded size stays within maxSize, but at
 * least one entry (so that progress is always possible). Returns ents itself
 * when nothing is cut.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0 || maxSize >= NO_LIMIT) return ents;
  let size = entrySize(ents[0]!);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySize(ents[limit]!);
    if (size > maxSize) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

/** The bytes of payload the entries carry: what MaxUncommittedEntriesSize counts. */
export function payloadsSize(ents: Entry[]): number {
  let s = 0;
  for (let i = 0; i < ents.length; i++) s += ents[i]!.data.length;
  return s;
}

export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

/** The response type that answers a vote request of type t. */
export function voteRespMsgType(t: MessageType): MessageType {
  switch (t) {
    case MessageType.MsgVote:
      return MessageType.MsgVoteResp;
    case MessageType.MsgPreVote:
      return MessageType.MsgPreVoteResp;
    default:
      throw new Error(`not a vote message: ${messageTypeName(t)}`);
  }
}

/** A one-line human description of a message, for logs and simulation traces. */
export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${messageTypeName(m.type)} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) {
    s += ` Entries:[${m.entries.map((e) => `${e.term}/${e.index}${e.type === 0 ? '' : ` T${e.type}`}`).join(' ')}]`;
  }
  if (m.snapshot !== undefined && m.snapshot.metadata.index !== 0) {
    s += ` Snapshot: Index:${m.snapshot.metadata.index} Term:${m.snapshot.metadata.term}`;
  }
  return s;
}
