import fs from 'node:fs';
import path from 'node:path';
import type { AuthStore } from '@etcd-ts/auth';
import { type Backend, restoreFromBolt } from '@etcd-ts/backend';
import type { Lessor } from '@etcd-ts/lease';
import type { WatchableStore } from '@etcd-ts/mvcc';
import type { Snapshot } from '@etcd-ts/raft';
import type { AlarmStore } from './alarms.js';
import type { Logger } from './config.js';
import { invariant } from './invariant.js';
import type { RaftCluster } from './membership.js';

/** The stores a snapshot replaces, and where its database waits. */
export interface SnapshotTarget {
  backend: Backend;
  kv: WatchableStore;
  lessor: Lessor;
  authStore: AuthStore;
  alarms: AlarmStore;
  cluster: RaftCluster;
  snapDir: string;
  noSync: boolean;
  lg: Logger;
}

/** Where the peer transport saves the database of the snapshot at `index` (etcd's naming). */
export function snapshotDBPath(snapDir: string, index: number): string {
  return path.join(snapDir, `${index.toString(16).padStart(16, '0')}.snap.db`);
}

/**
 * Installs a snapshot received from the leader (etcd's applySnapshot): its database (a
 * bbolt file, saved by the peer transport before raft saw the snapshot) replaces the
 * backend, then every store reloads from it — the lessor first, so the key-value store
 * re-attaches its leased keys — and the membership comes from the backend's buckets. The
 * database must hold at least everything up to the snapshot.
 */
export async function installSnapshot(t: SnapshotTarget, snap: Snapshot): Promise<void> {
  const index = snap.metadata.index;
  const file = snapshotDBPath(t.snapDir, index);
  invariant(
    fs.existsSync(file),
    () => `failed to find the database of snapshot ${index} at ${file}`,
  );
  t.lg.info({ 'snapshot-index': index }, 'applying snapshot');
  const imported = await restoreFromBolt(t.backend, file, { noSync: t.noSync });
  fs.rmSync(file, { force: true });
  // The lessor reloads between the key-value store letting go of the old history and
  // rebuilding from the new one, which re-attaches every leased key to its lease.
  t.kv.restoreFrom(t.backend, () => t.lessor.recover(t.backend));
  const ci = t.kv.consistentIndex().index;
  invariant(
    ci >= index,
    () => `the database of snapshot ${index} has consistent index ${ci}, behind the snapshot`,
  );
  t.authStore.recover(t.backend);
  t.alarms.recover();
  t.cluster.setBackend(t.backend);
  t.cluster.recover();
  t.lg.info(
    {
      'snapshot-index': index,
      'consistent-index': ci,
      buckets: imported.buckets,
      entries: imported.entries,
      members: t.cluster.sortedMembers().length,
    },
    'applied snapshot',
  );
}
