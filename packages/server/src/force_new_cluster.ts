import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  encodeConfChange,
  type HardState,
} from '@etcd-ts/raft';
import type { WAL } from '@etcd-ts/wal';
import type { Logger } from './config.js';
import { idToHex } from './ids.js';
import { type Member, memberToJson } from './membership.js';

/**
 * --force-new-cluster (etcd's restartAsStandaloneNode): what the WAL holds beyond the commit
 * index is dropped, and ConfChanges appended and committed that leave this member the only
 * voter (itself added first if it is not one, then every other member removed), so a
 * member that lost its majority serves again with all its data.
 */
export async function forceNewCluster(
  wal: WAL,
  self: bigint,
  snapConf: ConfState,
  state: HardState,
  entries: Entry[],
  lg: Logger,
): Promise<{ hardState: HardState; entries: Entry[] }> {
  const committed = entries.filter((e) => e.index <= state.commit);
  if (committed.length < entries.length)
    lg.info(
      { 'commit-index': state.commit, dropped: entries.length - committed.length },
      'discarding uncommitted WAL entries',
    );
  const ids = new Set<bigint>([...snapConf.voters, ...snapConf.learners]);
  for (const e of committed) {
    if (e.type !== EntryType.EntryConfChange) continue;
    const cc = decodeConfChange(e.data);
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) ids.delete(cc.nodeId);
    else if (cc.type !== ConfChangeType.ConfChangeUpdateNode) ids.add(cc.nodeId);
  }
  const ccs: ConfChange[] = [];
  // Self first: raft refuses a configuration with no voter at all.
  if (!ids.has(self)) {
    const m: Member = {
      id: self,
      name: '',
      peerUrls: ['http://localhost:2380'],
      clientUrls: [],
      isLearner: false,
    };
    ccs.push({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: self,
      context: Buffer.from(memberToJson(m)),
      id: 0n,
    });
  }
  for (const id of [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
    if (id !== self)
      ccs.push({
        type: ConfChangeType.ConfChangeRemoveNode,
        nodeId: id,
        context: new Uint8Array(0),
        id: 0n,
      });
  let index = committed.at(-1)?.index ?? state.commit;
  const added: Entry[] = ccs.map((cc) => ({
    term: state.term,
    index: ++index,
    type: EntryType.EntryConfChange,
    data: encodeConfChange(cc),
  }));
  const hardState = { ...state, commit: index };
  await wal.save(hardState, added);
  lg.info(
    { 'local-member-id': idToHex(self), 'removed-members': ccs.length },
    'forcing restart member as a standalone member',
  );
  return { hardState, entries: [...committed, ...added] };
}
