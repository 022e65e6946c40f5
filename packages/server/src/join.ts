import type { PeerDialTLS } from './bootstrap.js';
import { realClock } from './clock.js';
import type { Logger } from './config.js';
import { hexToId } from './ids.js';
import { type Member, memberListFromJson, type RaftCluster } from './membership.js';
import { peerRequest } from './peer_client.js';

/** How long each peer may take to answer GET /members (etcd's getClusterFromRemotePeers). */
const MEMBERS_TIMEOUT_MS = 10_000;

/**
 * The running cluster as its members describe it (etcd's GetClusterFromRemotePeers): the
 * first of `urls` that answers GET /members gives the members and, in X-Etcd-Cluster-ID,
 * the cluster id.
 */
export async function clusterFromPeers(
  urls: string[],
  tls: PeerDialTLS | undefined,
  lg: Logger,
): Promise<{ clusterId: bigint; members: Member[] }> {
  for (const url of urls) {
    try {
      const r = await peerRequest(new URL('/members', url).toString(), {
        method: 'GET',
        tls,
        timeoutMs: MEMBERS_TIMEOUT_MS,
        clock: realClock,
      });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      const header = r.headers['x-etcd-cluster-id'];
      if (typeof header !== 'string') throw new Error('no X-Etcd-Cluster-ID in the answer');
      return { clusterId: hexToId(header), members: memberListFromJson(r.body.toString('utf8')) };
    } catch (err) {
      lg.warn({ 'remote-peer-url': url, error: String(err) }, 'failed to get cluster response');
    }
  }
  throw new Error(
    'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
  );
}

/**
 * Matches --initial-cluster against the running cluster by peer URLs (etcd's
 * ValidateClusterAndAssignIDs): every member must be listed, with the same URLs; returns
 * the id the running cluster gave this member.
 */
export function assignIds(initial: RaftCluster, existing: Member[], local: Member): bigint {
  const locals = initial.sortedMembers();
  if (locals.length !== existing.length)
    throw new Error('error validating peerURLs: member count is unequal');
  const same = (a: string[], b: string[]) =>
    JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  for (const e of existing)
    if (!locals.some((l) => same(l.peerUrls, e.peerUrls)))
      throw new Error(
        `error validating peerURLs: PeerURLs: no match found for existing member (${e.id.toString(16)}, ${JSON.stringify(e.peerUrls)})`,
      );
  const me = existing.find((e) => same(e.peerUrls, local.peerUrls));
  if (me === undefined)
    throw new Error(
      'error validating peerURLs: this member is not a member of the running cluster',
    );
  return me.id;
}
