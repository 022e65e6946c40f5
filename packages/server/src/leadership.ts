import { type Clock, withTimeout } from './clock.js';
import type { Logger } from './config.js';
import { Errors } from './errors.js';
import { idToHex } from './ids.js';
import type { RaftCluster } from './membership.js';

/** What moving leadership needs of its member. */
export interface LeadershipHost {
  readonly memberId: bigint;
  readonly cluster: RaftCluster;
  readonly clock: Clock;
  readonly requestTimeout: number;
  readonly lg: Logger;
  readonly leaderId: bigint;
  isLeader(): boolean;
  transferLeadership(target: bigint): void;
  onLeaderChange(l: () => void): () => void;
  /** When the peer's streams came up (clock ms), 0 when it is not connected. */
  activeSince(id: bigint): number;
}

/**
 * Transfers leadership to `target` and waits until it leads (etcd's MoveLeader): only the
 * leader may, and only to a voting member; times out after the request timeout.
 */
export async function moveLeader(h: LeadershipHost, target: bigint): Promise<void> {
  if (!h.isLeader()) throw Errors.notLeader();
  const m = h.cluster.member(target);
  if (m === undefined || m.isLearner) throw Errors.badLeaderTransferee();
  if (target === h.memberId) return;
  let off: () => void = () => {};
  const moved = new Promise<void>((resolve) => {
    off = h.onLeaderChange(() => {
      if (h.leaderId === target) resolve();
    });
  });
  h.transferLeadership(target);
  try {
    await withTimeout(h.clock, moved, h.requestTimeout, () => Errors.timeout());
  } finally {
    off();
  }
}

/**
 * A leader that is asked to stop hands leadership to the voter it has been connected to the
 * longest first (etcd's TransferLeadership on Stop), so the cluster does not wait an
 * election timeout to notice it gone. Best effort: a failure only delays that.
 */
export async function transferLeadershipOnStop(h: LeadershipHost): Promise<void> {
  if (!h.isLeader()) return;
  let best: bigint | undefined;
  let since = Number.POSITIVE_INFINITY;
  for (const m of h.cluster.members.values()) {
    if (m.isLearner || m.id === h.memberId) continue;
    const t = h.activeSince(m.id);
    if (t !== 0 && t < since) {
      best = m.id;
      since = t;
    }
  }
  if (best === undefined) return;
  h.lg.info(
    { 'local-member-id': idToHex(h.memberId), 'transferee-id': idToHex(best) },
    'leadership transfer starting',
  );
  try {
    await moveLeader(h, best);
    h.lg.info({ 'transferee-id': idToHex(best) }, 'leadership transfer finished');
  } catch (err) {
    h.lg.warn({ 'transferee-id': idToHex(best), error: String(err) }, 'leadership transfer failed');
  }
}
