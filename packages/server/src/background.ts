import { AutoCompactor, parseRetention } from './compactor.js';
import type { EtcdServer } from './server.js';

/**
 * The leader's side of lease expiry (etcd's revokeExpiredLeases): every lease the primary
 * lessor finds expired is revoked through raft as root, so every member deletes its keys.
 */
export async function revokeExpiredLeases(s: EtcdServer): Promise<void> {
  for await (const batch of s.lessor.expiredLeases()) {
    if (s.isStopping) return;
    for (const l of batch) {
      if (!s.isLeader()) break;
      s.raftRequest('leaseRevoke', { ID: l.id }, s.rootUser()).then(
        () => s.lg.debug({ 'lease-id': l.id.toString(16) }, 'revoked expired lease'),
        (err) => {
          if (!s.isStopping)
            s.lg.warn(
              { 'lease-id': l.id.toString(16), error: String(err) },
              'failed to revoke lease',
            );
        },
      );
    }
  }
}

/**
 * --auto-compaction-mode/retention (etcd's compactor): compactions proposed through raft as
 * root by the leader; undefined when retention is 0.
 */
export function startAutoCompactor(s: EtcdServer): AutoCompactor | undefined {
  const retention = parseRetention(s.cfg.autoCompactionMode, s.cfg.autoCompactionRetention);
  if (retention <= 0) return undefined;
  const compactor = new AutoCompactor(
    s.cfg.autoCompactionMode,
    retention,
    {
      rev: () => s.kv.rev(),
      isLeader: () => s.isLeader(),
      compact: async (rev) => {
        await s.raftRequest('compaction', { revision: rev, physical: false }, s.rootUser());
      },
    },
    s.lg,
    s.clock,
  );
  compactor.start();
  return compactor;
}
