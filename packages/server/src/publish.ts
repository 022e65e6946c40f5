import { type Clock, sleep } from './clock.js';
import { CLUSTER_VERSION, type Logger, type ServerConfig } from './config.js';
import { idToHex } from './ids.js';
import type { RaftCluster } from './membership.js';

/** What publishing needs of its member. */
export interface PublishHost {
  readonly lg: Logger;
  readonly clock: Clock;
  readonly cfg: Pick<ServerConfig, 'name' | 'advertiseClientUrls' | 'electionMs'>;
  readonly memberId: bigint;
  readonly cluster: RaftCluster;
  readonly requestTimeout: number;
  isStopping(): boolean;
  isLeader(): boolean;
  hasLeader(): boolean;
  /** Proposes the cluster version (the leader of a new cluster decides it). */
  setClusterVersion(version: string): Promise<unknown>;
  /** Proposes this member's name and client URLs (etcd's ClusterMemberAttrSet). */
  publishAttributes(name: string, clientUrls: string[]): Promise<unknown>;
  /** Published: what waits for it may start (auto compaction). */
  onPublished(): void;
}

/**
 * etcd's publish: once a leader is known, the member proposes its attributes (name and
 * client URLs) through raft — after the leader of a new cluster set its version — and is
 * ready to serve clients when that entry applies. A failure is retried after an election
 * timeout while a leader is known.
 */
export class Publisher {
  private published = false;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly h: PublishHost) {}

  /** Called as entries apply: publishes once a leader is known. */
  maybePublish(): void {
    if (!this.published && this.h.hasLeader()) this.publish();
  }

  /** Resolves once this member has published itself (etcd's ReadyNotify). */
  readyNotify(): Promise<void> {
    const h = this.h;
    if (this.published && this.listeners.length === 0 && h.cluster.member(h.memberId)?.name)
      return Promise.resolve();
    return new Promise((resolve) => this.listeners.push(resolve));
  }

  private publish(): void {
    const h = this.h;
    this.published = true;
    void (async () => {
      try {
        if (h.isLeader() && h.cluster.version === undefined) {
          h.lg.info({ 'cluster-version': CLUSTER_VERSION }, 'setting up initial cluster version');
          await h.setClusterVersion(CLUSTER_VERSION);
        }
        const wasMember = h.cluster.member(h.memberId) !== undefined;
        await h.publishAttributes(h.cfg.name, h.cfg.advertiseClientUrls);
        h.lg.info(
          {
            'local-member-id': idToHex(h.memberId),
            'local-member-attributes': `{Name:${h.cfg.name} ClientURLs:[${h.cfg.advertiseClientUrls.join(' ')}]}`,
            'request-path': `/0/members/${idToHex(h.memberId)}/attributes`,
            'cluster-id': idToHex(h.cluster.clusterId),
            'publish-timeout': `${h.requestTimeout}ms`,
            'was-member': wasMember,
          },
          'published local member to cluster through raft',
        );
        h.onPublished();
        for (const l of this.listeners.splice(0)) l();
      } catch (err) {
        if (h.isStopping()) return;
        h.lg.warn({ error: String(err) }, 'failed to publish local member to cluster through raft');
        this.published = false;
        // Try again after an election timeout (a new leader may be on its way).
        await sleep(h.clock, h.cfg.electionMs);
        if (!h.isStopping()) this.maybePublish();
      }
    })();
  }
}
