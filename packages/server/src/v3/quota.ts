import { etcdserverpb } from '@etcd-ts/api';
import { requestCost } from '../apply/txn.js';
import { Errors } from '../errors.js';
import type { EtcdServer } from '../server.js';

/**
 * etcd's quota check before a write is proposed (v3rpc/quota.go): a request whose cost
 * does not fit in --quota-backend-bytes raises the NOSPACE alarm through raft and is
 * refused; it stays refused until the alarm is disarmed.
 */
export async function checkQuota(
  s: EtcdServer,
  r: Partial<etcdserverpb.InternalRaftRequest>,
): Promise<void> {
  if (!s.quota.enabled) return;
  const cost = requestCost(r);
  if (cost === 0 || s.quota.available(cost)) return;
  s.lg.warn(
    { 'quota-size': s.quota.quotaBytes, 'db-size': s.backend.size(), cost },
    'exceeded quota; raising NOSPACE alarm',
  );
  try {
    await s.raftRequest('alarm', {
      action: etcdserverpb.AlarmRequest_AlarmAction.ACTIVATE,
      memberID: s.memberId,
      alarm: etcdserverpb.AlarmType.NOSPACE,
    });
  } catch {
    // The write is refused either way.
  }
  throw Errors.noSpace();
}
