// What every part of the transport shares: who we are, where to report, how to dial.

import type { Message } from '@etcd-ts/raft';
import type { Clock } from '../clock.js';
import type { Logger } from '../config.js';
import type { PeerHttpClient } from './client.js';
import {
  H_CLUSTER_ID,
  H_MIN_CLUSTER_VERSION,
  H_PEER_URLS,
  H_SERVER_FROM,
  H_SERVER_VERSION,
  idString,
  type LocalVersions,
} from './wire.js';

/** What the transport delivers to the member (etcd's rafthttp.Raft). */
export interface RaftHandler {
  /** A message for the local raft node (etcd's Process); a rejection answers the sender with an error. */
  process(m: Message): Promise<void>;
  isIDRemoved(id: bigint): boolean;
  reportUnreachable(id: bigint): void;
  reportSnapshot(id: bigint, failed: boolean): void;
}

/** Where an incoming snapshot's database goes (etcd's snapshotter.SaveDBFrom). Resolves with the bytes written. */
export interface SnapshotDBStore {
  saveDBFrom(body: AsyncIterable<Uint8Array>, index: number): Promise<number>;
}

export interface TransportContext {
  readonly lg: Logger;
  readonly clock: Clock;
  readonly localId: bigint;
  readonly clusterId: bigint;
  readonly peerUrls: readonly string[];
  readonly serverVersion: string;
  readonly minClusterVersion: string;
  readonly versions: LocalVersions;
  readonly raft: RaftHandler;
  readonly client: PeerHttpClient;
  readonly maxMessageBytes: number;
  /** etcd's ErrorC: a failure the member must stop for (it was removed from the cluster). */
  reportCriticalError(err: Error): void;
}

/** The headers of every request a member makes to a peer (etcd's createPostRequest). */
export function requestHeaders(ctx: TransportContext): Record<string, string> {
  const h: Record<string, string> = {
    [H_SERVER_FROM]: idString(ctx.localId),
    [H_SERVER_VERSION]: ctx.serverVersion,
    [H_MIN_CLUSTER_VERSION]: ctx.minClusterVersion,
    [H_CLUSTER_ID]: idString(ctx.clusterId),
  };
  if (ctx.peerUrls.length > 0) h[H_PEER_URLS] = ctx.peerUrls.join(',');
  return h;
}
