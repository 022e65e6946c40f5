import type http from 'node:http';
import { etcdserverpb, leasepb } from '@etcd-ts/api';
import { LeaseNotFoundError } from '@etcd-ts/lease';
import { SERVER_VERSION } from './config.js';
import { MembershipError } from './errors.js';
import { idToHex } from './ids.js';
import { memberListToJson } from './membership.js';
import type { EtcdServer } from './server.js';
import type { V3Server } from './v3/index.js';

/** The largest request body the peer handlers read (lease and hash requests are tiny). */
const MAX_PEER_REQUEST_BYTES = 64 * 1024;

/** Go's http.Error: a text body with a newline, as etcd's peers read it. */
export function httpError(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
  });
  res.end(`${text}\n`);
}

function allowMethod(req: http.IncomingMessage, res: http.ServerResponse, m: string): boolean {
  if (req.method === m) return true;
  res.setHeader('allow', m);
  httpError(res, 405, 'Method Not Allowed');
  return false;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_PEER_REQUEST_BYTES) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * What a member serves its peers besides raft (etcd's newPeerHandler): GET /members (the
 * membership as JSON, for members joining), POST /members/promote/<id> (a promotion
 * forwarded to the leader), GET /version, POST /leases and /leases/internal (keep-alives
 * and time-to-live forwarded to the leader's lessor), POST /members/hashkv (the corruption
 * check). Returns false for other paths.
 */
export function servePeer(
  s: EtcdServer,
  v3: V3Server,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): boolean {
  const path = new URL(req.url ?? '/', 'http://peer').pathname;
  const clusterIdHeader = () => res.setHeader('x-etcd-cluster-id', idToHex(s.clusterId));
  if (path === '/members') {
    if (!allowMethod(req, res, 'GET')) return true;
    clusterIdHeader();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${memberListToJson(s.cluster.sortedMembers())}\n`);
    return true;
  }
  if (path.startsWith('/members/promote/')) {
    if (!allowMethod(req, res, 'POST')) return true;
    clusterIdHeader();
    void promote(v3, path.slice('/members/promote/'.length), res);
    return true;
  }
  if (path === '/version') {
    if (!allowMethod(req, res, 'GET')) return true;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        etcdserver: SERVER_VERSION,
        etcdcluster: s.cluster.version ?? 'not_decided',
      }),
    );
    return true;
  }
  if (path === '/leases' || path === '/leases/internal' || path === '/members/hashkv') {
    if (!allowMethod(req, res, 'POST')) return true;
    void answer(s, v3, path, req, res);
    return true;
  }
  return false;
}

async function promote(v3: V3Server, idText: string, res: http.ServerResponse): Promise<void> {
  if (!/^\d+$/.test(idText) || BigInt(idText) >= 1n << 64n) {
    httpError(res, 404, `member ${idText} not found in cluster`);
    return;
  }
  try {
    const members = await v3.cluster.promoteOnLeader(BigInt(idText));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${memberListToJson(members)}\n`);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (err instanceof MembershipError && text === MembershipError.idNotFound().message)
      httpError(res, 404, text);
    else if (err instanceof MembershipError || /in sync with leader/.test(text))
      httpError(res, 412, text);
    else httpError(res, 500, text);
  }
}

async function answer(
  s: EtcdServer,
  v3: V3Server,
  path: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) {
    httpError(res, 413, 'request body too large');
    return;
  }
  let request: () => Promise<Uint8Array>;
  try {
    if (path === '/leases') {
      const r = etcdserverpb.LeaseKeepAliveRequest.decode(body);
      request = async () => {
        const ttl = await v3.lease.renewOnLeader(r.ID);
        return etcdserverpb.LeaseKeepAliveResponse.encode({
          header: undefined,
          ID: r.ID,
          TTL: ttl,
        }).finish();
      };
    } else if (path === '/leases/internal') {
      const r = leasepb.LeaseInternalRequest.decode(body);
      const ttlReq = r.LeaseTimeToLiveRequest ?? { ID: 0n, keys: false };
      request = async () =>
        leasepb.LeaseInternalResponse.encode({
          LeaseTimeToLiveResponse: await v3.lease.timeToLiveOnLeader(ttlReq),
        }).finish();
    } else {
      const r = etcdserverpb.HashKVRequest.decode(body);
      request = async () => {
        const h = await s.kv.hashByRevAsync(r.revision);
        return etcdserverpb.HashKVResponse.encode({
          header: s.header(h.rev),
          hash: h.hash,
          compactRevision: h.compactRev,
        }).finish();
      };
    }
  } catch {
    httpError(res, 400, 'error unmarshalling request');
    return;
  }
  let out: Uint8Array;
  try {
    out = await request();
  } catch (err) {
    if (err instanceof LeaseNotFoundError) httpError(res, 404, err.message);
    else httpError(res, 400, err instanceof Error ? err.message : String(err));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/protobuf' });
  res.end(Buffer.from(out));
}
