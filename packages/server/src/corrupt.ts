import { etcdserverpb } from '@etcd-ts/api';
import { idToHex } from './ids.js';
import { peerRequest } from './peer_client.js';
import type { EtcdServer } from './server.js';

/**
 * --experimental-initial-corrupt-check (etcd's CheckInitialHashKV): before a member serves
 * clients, its KV hash at its current revision is compared with every peer's at the same
 * revision (POST /members/hashkv); a peer with the same compact revision and another hash
 * means this member's data differs, and it refuses to serve. Peers that cannot answer, or
 * answer from another compact revision, are logged and skipped, as etcd does.
 */
export async function checkInitialHashKV(s: EtcdServer): Promise<void> {
  const lg = s.lg;
  lg.info(
    { 'local-member-id': idToHex(s.memberId), timeout: `${s.requestTimeout}ms` },
    'starting initial corruption check',
  );
  const { hash, rev, compactRev } = await s.kv.hashByRevAsync(0);
  let mismatch = 0;
  for (const m of s.cluster.sortedMembers()) {
    if (m.id === s.memberId) continue;
    const body = etcdserverpb.HashKVRequest.encode({ revision: rev }).finish();
    let resp: etcdserverpb.HashKVResponse | undefined;
    let lastErr = '';
    for (const url of m.peerUrls) {
      try {
        const r = await peerRequest(new URL('/members/hashkv', url).toString(), {
          method: 'POST',
          body,
          tls: s.peers.dialTls,
          timeoutMs: s.requestTimeout,
          clock: s.clock,
        });
        if (r.status !== 200) {
          lastErr = r.body.toString('utf8').trim();
          continue;
        }
        resp = etcdserverpb.HashKVResponse.decode(r.body);
        break;
      } catch (err) {
        lastErr = String(err);
      }
    }
    const fields = {
      'local-member-id': idToHex(s.memberId),
      'local-member-revision': rev,
      'local-member-compact-revision': compactRev,
      'local-member-hash': hash,
      'remote-peer-id': idToHex(m.id),
      'remote-peer-endpoints': m.peerUrls,
    };
    if (resp === undefined) {
      lg.warn({ ...fields, error: lastErr }, 'failed hash kv request');
      continue;
    }
    if (resp.hash === hash) continue;
    const remote = {
      ...fields,
      'remote-peer-revision': resp.header?.revision ?? 0,
      'remote-peer-compact-revision': resp.compactRevision,
      'remote-peer-hash': resp.hash,
    };
    if (resp.compactRevision === compactRev) {
      lg.warn(remote, 'found different hash values from remote peer');
      mismatch++;
    } else {
      lg.warn(remote, 'found different compact revision values from remote peer');
    }
  }
  if (mismatch > 0) throw new Error(`${idToHex(s.memberId)} found data inconsistency with peers`);
  lg.info(
    { 'local-member-id': idToHex(s.memberId) },
    'initial corruption checking passed; no corruption',
  );
}
