// Restore rebuilds a tracker configuration from a ConfState (a snapshot's or
// the one stored at bootstrap) by replaying it as a sequence of changes
// through the Changer, so that a restored configuration passes exactly the
// same checks as one reached step by step.

import { type ConfChangeSingle, ConfChangeType, type ConfState } from '../raftpb.js';
import { type ChangeResult, Changer } from './confchange.js';

/**
 * The changes that, applied to an empty configuration, produce cs:
 * `outgoing` builds the outgoing half (simple steps), `incoming` is then
 * applied while entering the joint state (or as simple steps if not joint).
 */
function toConfChangeSingle(cs: ConfState): {
  outgoing: ConfChangeSingle[];
  incoming: ConfChangeSingle[];
} {
  const outgoing: ConfChangeSingle[] = [];
  const incoming: ConfChangeSingle[] = [];
  for (const id of cs.votersOutgoing) {
    outgoing.push({ type: ConfChangeType.ConfChangeAddNode, nodeId: id });
  }
  // Entering the joint state copies the outgoing voters into the incoming
  // half; remove them there first, then add the real incoming members.
  for (const id of cs.votersOutgoing) {
    incoming.push({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id });
  }
  for (const id of cs.voters) incoming.push({ type: ConfChangeType.ConfChangeAddNode, nodeId: id });
  for (const id of cs.learners) {
    incoming.push({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id });
  }
  // LearnersNext are outgoing voters being demoted: adding them as learners
  // while joint puts them in LearnersNext.
  for (const id of cs.learnersNext) {
    incoming.push({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id });
  }
  return { outgoing, incoming };
}

export function restoreConfState(changer: Changer, cs: ConfState): ChangeResult {
  const { outgoing, incoming } = toConfChangeSingle(cs);
  let cur = changer;
  const step = (f: (c: Changer) => ChangeResult): ChangeResult => {
    const r = f(cur);
    cur.tracker.config = r.config;
    cur.tracker.progress = r.progress;
    cur = new Changer(cur.tracker, cur.lastIndex);
    return r;
  };
  if (outgoing.length === 0) {
    // Not joint: add the members one at a time.
    let r: ChangeResult | undefined;
    for (const cc of incoming) r = step((c) => c.simple([cc]));
    return r ?? { config: changer.tracker.config, progress: changer.tracker.progress };
  }
  for (const cc of outgoing) step((c) => c.simple([cc]));
  return step((c) => c.enterJoint(cs.autoLeave, incoming));
}
