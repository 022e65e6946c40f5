import { NONE } from '@etcd-ts/raft';
import { sleep } from '../clock.js';
import { Errors } from '../errors.js';
import { type PeerResponse, peerRequest } from '../peer_client.js';
import type { EtcdServer } from '../server.js';

/** Pause between rounds over the leader's URLs while none answers. */
const RETRY_MS = 50;

/**
 * Sends a request to the leader's peer listener (how etcd forwards lease keep-alives,
 * time-to-live and learner promotions, which only the leader can answer): waits for a
 * leader, tries each of its peer URLs, and keeps trying until one answers or the request
 * timeout passes (etcdserver: request timed out; no leader: etcdserver: no leader).
 */
export async function toLeader(
  s: EtcdServer,
  path: string,
  body: Uint8Array,
): Promise<PeerResponse> {
  const deadline = s.clock.now() + s.requestTimeout;
  let lastErr: unknown;
  while (s.clock.now() < deadline) {
    if (s.isStopping) throw Errors.stopped();
    const leader = s.leaderId === NONE ? undefined : s.cluster.member(s.leaderId);
    if (leader !== undefined && leader.id !== s.memberId) {
      for (const url of leader.peerUrls) {
        try {
          return await peerRequest(new URL(path, url).toString(), {
            method: 'POST',
            body,
            tls: s.peers.dialTls,
            timeoutMs: Math.max(1, deadline - s.clock.now()),
            clock: s.clock,
          });
        } catch (err) {
          lastErr = err;
        }
      }
    }
    await sleep(s.clock, RETRY_MS);
  }
  if (s.leaderId === NONE) throw Errors.noLeader();
  s.lg.warn({ path, error: String(lastErr) }, 'failed to forward a request to the leader');
  throw Errors.timeout();
}
