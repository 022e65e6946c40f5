import type { Lessor } from '@etcd-ts/lease';
import { type Clock, sleep } from './clock.js';
import {
  type AutoCompactor,
  type Compactable,
  AutoCompactor as Compactor,
  parseRetention,
} from './compactor.js';
import type { Logger, ServerConfig } from './config.js';

/** What the leader's lease-expiry loop needs of its member. */
export interface LeaseExpiryHost {
  readonly lg: Logger;
  isStopping(): boolean;
  isLeader(): boolean;
  /** Proposes the revocation of lease `id` as root. */
  revokeLease(id: bigint): Promise<unknown>;
}

/**
 * The leader's side of lease expiry (etcd's revokeExpiredLeases): every lease the primary
 * lessor finds expired is revoked through raft as root, so every member deletes its keys.
 */
export async function revokeExpiredLeases(lessor: Lessor, host: LeaseExpiryHost): Promise<void> {
  for await (const batch of lessor.expiredLeases()) {
    if (host.isStopping()) return;
    for (const l of batch) {
      if (!host.isLeader()) break;
      host.revokeLease(l.id).then(
        () => host.lg.debug({ 'lease-id': l.id.toString(16) }, 'revoked expired lease'),
        (err) => {
          if (!host.isStopping())
            host.lg.warn(
              { 'lease-id': l.id.toString(16), error: String(err) },
              'failed to revoke lease',
            );
        },
      );
    }
  }
}

/**
 * --auto-compaction-mode/retention (etcd's compactor), started: compactions the leader
 * proposes; undefined when the retention is 0.
 */
export function startAutoCompactor(
  cfg: Pick<ServerConfig, 'autoCompactionMode' | 'autoCompactionRetention'>,
  target: Compactable,
  lg: Logger,
  clock: Clock,
): AutoCompactor | undefined {
  const retention = parseRetention(cfg.autoCompactionMode, cfg.autoCompactionRetention);
  if (retention <= 0) return undefined;
  const compactor = new Compactor(cfg.autoCompactionMode, retention, target, lg, clock);
  compactor.start();
  return compactor;
}

/** How long a member waits for its peers' streams before it gives up fast-forwarding. */
const PEER_WAIT_MS = 5000;
const PEER_POLL_MS = 50;

/**
 * etcd's adjustTicks (--initial-election-tick-advance): a lone voter campaigns at once; in a
 * cluster the member fast-forwards to two ticks short of an election once its peers'
 * streams are up, so a lost leader is noticed soon without disrupting one that speaks.
 */
export async function adjustTicks(t: {
  alone: boolean;
  electionTick: number;
  clock: Clock;
  isStopping(): boolean;
  activePeers(): number;
  advanceTicks(n: number): void;
}): Promise<void> {
  if (t.alone) {
    t.advanceTicks(t.electionTick - 1);
    return;
  }
  for (let waited = 0; waited < PEER_WAIT_MS; waited += PEER_POLL_MS) {
    await sleep(t.clock, PEER_POLL_MS);
    if (t.isStopping()) return;
    if (t.activePeers() > 1) {
      t.advanceTicks(t.electionTick - 2);
      return;
    }
  }
}
