// Our transport against Debian's etcd 3.4 (/usr/bin/etcd): a real etcd member and a member
// made of our Transport and a scripted raft follower form a two-member cluster, which can
// only elect a leader, commit and serve clients if the two speak one protocol both ways.
// Then the same hostile requests go to etcd's peer listener and to ours, and must be
// answered alike. Under CI a missing etcd fails the suite instead of skipping it.

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Message, MessageType, newMessage, newSnapshot } from '@etcd-ts/raft';
import {
  type EtcdProcess,
  freePort,
  REAL_ETCDCTL_BIN,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../clock.js';
import type { Logger } from '../config.js';
import { computeClusterId, computeMemberId } from '../ids.js';
import { encodeFrame } from './codec.js';
import { Transport } from './index.js';

const execFileAsync = promisify(execFile);

interface LogLine {
  msg: string;
  fields: Record<string, unknown>;
}

function capture(logs: LogLine[]): Logger {
  const push = (fields: object, msg: string) =>
    logs.push({ msg, fields: fields as Record<string, unknown> });
  return { debug: () => {}, info: push, warn: push, error: push };
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function listen(handler: http.RequestListener): Promise<[http.Server, string]> {
  const server = http.createServer({ requestTimeout: 0 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

describe.runIf(realEtcdAvailable())('rafthttp against etcd 3.4', () => {
  const token = 'etcd-ts-rafthttp-interop';
  let etcd: EtcdProcess;
  let etcdPeerUrl: string;
  let etcdId: bigint;
  let ourId: bigint;
  let clusterId: bigint;
  let follower: Transport;
  let followerServer: http.Server;
  let mirror: Transport;
  let mirrorServer: http.Server;
  let mirrorUrl: string;
  const followerLogs: LogLine[] = [];
  const received: Message[] = [];
  const streamRequests: { url: string; headers: http.IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    let t: Transport | undefined;
    let ourUrl: string;
    [followerServer, ourUrl] = await listen((req, res) => {
      if (req.url?.startsWith('/raft/stream/')) {
        streamRequests.push({ url: req.url, headers: req.headers });
      }
      if (t?.handle(req, res)) return;
      if (req.url === '/version') {
        res.setHeader('Content-Type', 'application/json');
        res.end('{"etcdserver":"3.4.23","etcdcluster":"3.0.0"}');
        return;
      }
      res.statusCode = 404;
      res.end('404 page not found\n');
    });
    etcdPeerUrl = `http://127.0.0.1:${await freePort()}`;
    etcdId = computeMemberId([etcdPeerUrl], token);
    ourId = computeMemberId([ourUrl], token);
    clusterId = computeClusterId([etcdId, ourId]);

    // A follower that grants every vote and acknowledges every append at once: enough for
    // etcd's leader to commit with us as its quorum's second half.
    const answer = (m: Message): Message | undefined => {
      const base = { from: ourId, to: m.from, term: m.term };
      switch (m.type) {
        case MessageType.MsgVote:
          return newMessage({ ...base, type: MessageType.MsgVoteResp });
        case MessageType.MsgPreVote:
          return newMessage({ ...base, type: MessageType.MsgPreVoteResp });
        case MessageType.MsgApp: {
          const last = m.entries.length > 0 ? m.entries[m.entries.length - 1]!.index : m.index;
          return newMessage({ ...base, type: MessageType.MsgAppResp, index: last });
        }
        case MessageType.MsgHeartbeat:
          return newMessage({ ...base, type: MessageType.MsgHeartbeatResp, context: m.context });
        default:
          return undefined;
      }
    };
    follower = new Transport({
      localId: ourId,
      clusterId,
      peerUrls: [ourUrl],
      serverVersion: '3.4.23',
      minClusterVersion: '3.0.0',
      clusterVersion: () => undefined,
      raft: {
        process: async (m) => {
          received.push(m);
          const r = answer(m);
          if (r !== undefined) follower.send([r]);
        },
        isIDRemoved: () => false,
        reportUnreachable: () => {},
        reportSnapshot: () => {},
      },
      snapshots: {
        saveDBFrom: async () => {
          throw new Error('no snapshot expected');
        },
      },
      logger: capture(followerLogs),
      clock: realClock,
    });
    t = follower;
    follower.addPeer(etcdId, [etcdPeerUrl]);

    etcd = await startEtcd({
      name: 'e',
      args: [
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=e=${etcdPeerUrl},f=${ourUrl}`,
        `--initial-cluster-token=${token}`,
      ],
      startTimeoutMs: 30_000,
    });

    // Our listener playing etcd's part for the comparisons: same ids, same known peer.
    let m: Transport | undefined;
    [mirrorServer, mirrorUrl] = await listen((req, res) => {
      if (!m?.handle(req, res)) {
        res.statusCode = 404;
        res.end('404 page not found\n');
      }
    });
    mirror = new Transport({
      localId: etcdId,
      clusterId,
      peerUrls: [mirrorUrl],
      serverVersion: '3.4.23',
      minClusterVersion: '3.0.0',
      clusterVersion: () => undefined,
      raft: {
        process: async () => {},
        isIDRemoved: () => false,
        reportUnreachable: () => {},
        reportSnapshot: () => {},
      },
      snapshots: { saveDBFrom: async () => 0 },
      logger: capture([]),
      clock: realClock,
    });
    m = mirror;
    // an address where nothing listens: the mirror's own dials fail, its listener is what counts
    mirror.addPeer(ourId, ['http://127.0.0.1:9']);
  }, 60_000);

  afterAll(async () => {
    await etcd?.stop();
    await follower?.stop();
    await mirror?.stop();
    for (const s of [followerServer, mirrorServer]) {
      s?.closeAllConnections();
      s?.close();
    }
  });

  it('etcd elects itself with our vote, commits through our acks and serves clients', async () => {
    // startEtcd returned: etcd logged "ready to serve client requests", which needs a commit.
    // etcd 3.4 logs through capnslog by default: "rafthttp: <text>" lines.
    const hex = ourId.toString(16);
    const logs = etcd.logs();
    expect(logs).toContain(`rafthttp: peer ${hex} became active`);
    for (const type of ['stream MsgApp v2', 'stream Message']) {
      // etcd's readers dialed our streams and our writers answered them ...
      expect(logs).toContain(
        `rafthttp: established a TCP streaming connection with peer ${hex} (${type} reader)`,
      );
      // ... and our readers dialed etcd's, which attached them to its writers
      expect(logs).toContain(
        `rafthttp: established a TCP streaming connection with peer ${hex} (${type} writer)`,
      );
      expect(
        followerLogs.some(
          (l) =>
            l.msg === 'established TCP streaming connection with remote peer' &&
            l.fields['stream-reader-type'] === type,
        ),
      ).toBe(true);
    }
    expect(logs).not.toContain('rafthttp: lost the TCP streaming connection');

    // Not execFileSync: our member lives in this process and must keep answering etcd.
    await execFileAsync(
      REAL_ETCDCTL_BIN,
      [`--endpoints=${etcd.clientUrl}`, 'put', 'rafthttp-key', 'interop-value'],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 },
    );
    await waitUntil('the put replicated to us', () =>
      received.some(
        (m) =>
          m.type === MessageType.MsgApp &&
          m.entries.some((e) => Buffer.from(e.data).includes('interop-value')),
      ),
    );
    const apps = received.filter((m) => m.type === MessageType.MsgApp && m.entries.length > 0);
    expect(apps.length).toBeGreaterThan(2);
    for (const m of apps) {
      expect(m.from).toBe(etcdId);
      expect(m.to).toBe(ourId);
      // each entry follows the one before it: the msgappv2 decoder tracked etcd's index
      expect(m.entries.map((e) => e.index)).toEqual(m.entries.map((_e, i) => m.index + i + 1));
    }
    await waitUntil('a heartbeat from the leader', () =>
      received.some((m) => m.type === MessageType.MsgHeartbeat && m.from === etcdId),
    );
  });

  it('etcd takes our snapshot POST: the database saved as member/snap/<index>.snap.db, 204', async () => {
    // A MsgSnap of a past term: etcd saves the database, then raft ignores the message.
    const size = 3 * 1024 * 1024 + 7;
    const expected = createHash('sha256');
    async function* db(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < size; off += 100_000) {
        const c = randomBytes(Math.min(100_000, size - off));
        expected.update(c);
        yield c;
      }
    }
    let ok: boolean | undefined;
    follower.sendSnapshot({
      message: newMessage({
        type: MessageType.MsgSnap,
        from: ourId,
        to: etcdId,
        term: 1,
        snapshot: newSnapshot({
          metadata: { index: 1000, term: 1, confState: { voters: [etcdId, ourId] } },
        }),
      }),
      db: db(),
      done: (r) => (ok = r),
    });
    await waitUntil('the snapshot sent', () => ok !== undefined);
    expect(ok).toBe(true);
    const saved = await readFile(join(etcd.dataDir, 'member', 'snap', '00000000000003e8.snap.db'));
    expect(saved.length).toBe(size);
    expect(createHash('sha256').update(saved).digest('hex')).toBe(expected.digest('hex'));
    expect(etcd.logs()).toContain('rafthttp: receiving database snapshot [index: 1000');
  });

  it('etcd dials our streams as etcd does: paths and headers', () => {
    const hexEtcd = etcdId.toString(16);
    const paths = new Set(streamRequests.map((r) => r.url));
    expect(paths).toEqual(
      new Set([`/raft/stream/msgapp/${hexEtcd}`, `/raft/stream/message/${hexEtcd}`]),
    );
    const h = streamRequests[0]!.headers;
    expect({
      from: h['x-server-from'],
      version: h['x-server-version'],
      min: h['x-min-cluster-version'],
      cluster: h['x-etcd-cluster-id'],
      to: h['x-raft-to'],
      urls: h['x-peerurls'],
    }).toEqual({
      from: hexEtcd,
      version: '3.4.23',
      min: '3.0.0',
      cluster: clusterId.toString(16),
      to: ourId.toString(16),
      urls: etcdPeerUrl,
    });
  });

  it('etcd and our listener answer the same requests alike', async () => {
    const H = (over: Record<string, string> = {}): Record<string, string> => ({
      'X-Server-From': ourId.toString(16),
      'X-Server-Version': '3.4.23',
      'X-Min-Cluster-Version': '3.0.0',
      'X-Etcd-Cluster-ID': clusterId.toString(16),
      ...over,
    });
    const vote = encodeFrame(newMessage({ type: MessageType.MsgVote, from: ourId, to: etcdId }));
    const requests: [string, string, RequestInit][] = [
      ['probing', '/raft/probing', {}],
      ['probing, any method', '/raft/probing', { method: 'PUT' }],
      ['pipeline GET', '/raft', {}],
      [
        'pipeline, other cluster',
        '/raft',
        { method: 'POST', headers: H({ 'X-Etcd-Cluster-ID': 'abc' }) },
      ],
      [
        'pipeline, old server',
        '/raft',
        { method: 'POST', headers: H({ 'X-Server-Version': '2.3.0' }) },
      ],
      [
        'pipeline, newer minimum',
        '/raft',
        { method: 'POST', headers: H({ 'X-Min-Cluster-Version': '3.5.0' }) },
      ],
      [
        'pipeline, etcd 2.0 (no versions)',
        '/raft',
        { method: 'POST', headers: { 'X-Etcd-Cluster-ID': clusterId.toString(16) } },
      ],
      [
        'pipeline, garbage',
        '/raft',
        { method: 'POST', headers: H(), body: Uint8Array.of(0x3a, 0x64, 1) },
      ],
      [
        'stream POST',
        `/raft/stream/message/${ourId.toString(16)}`,
        { method: 'POST', headers: H() },
      ],
      [
        'stream, other cluster',
        `/raft/stream/message/${ourId.toString(16)}`,
        { headers: H({ 'X-Etcd-Cluster-ID': '1' }) },
      ],
      ['stream, msgappv2 path', `/raft/stream/msgappv2/${ourId.toString(16)}`, { headers: H() }],
      ['stream, bad id', '/raft/stream/message/zz', { headers: H() }],
      ['stream, trailing slash', '/raft/stream/message/', { headers: H() }],
      ['stream, unknown sender', '/raft/stream/message/77', { headers: H() }],
      [
        'stream, raft-to mismatch',
        `/raft/stream/message/${ourId.toString(16)}`,
        { headers: H({ 'X-Raft-To': '1' }) },
      ],
      ['snapshot GET', '/raft/snapshot', {}],
      [
        'snapshot, other cluster',
        '/raft/snapshot',
        { method: 'POST', headers: H({ 'X-Etcd-Cluster-ID': '1' }) },
      ],
      ['snapshot, not MsgSnap', '/raft/snapshot', { method: 'POST', headers: H(), body: vote }],
      [
        'snapshot, truncated',
        '/raft/snapshot',
        { method: 'POST', headers: H(), body: vote.subarray(0, 20) },
      ],
      [
        'snapshot, empty',
        '/raft/snapshot',
        { method: 'POST', headers: H(), body: new Uint8Array(0) },
      ],
      ['elsewhere under /raft', '/raft/xyz', {}],
      ['the stream subtree root', '/raft/stream', { redirect: 'manual' }],
    ];
    const HEADERS = [
      'content-type',
      'x-content-type-options',
      'x-etcd-cluster-id',
      'allow',
      'x-server-version',
      'location',
    ];
    const ask = async (base: string, path: string, init: RequestInit) => {
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      const headers: Record<string, string | null> = {};
      for (const h of HEADERS) headers[h] = res.headers.get(h);
      return { status: res.status, text, headers };
    };
    for (const [name, path, init] of requests) {
      const theirs = await ask(etcdPeerUrl, path, init);
      const ours = await ask(mirrorUrl, path, init);
      if (path === '/raft/probing') {
        for (const r of [theirs, ours]) {
          const j = JSON.parse(r.text) as { OK: boolean; Now: string };
          expect(j.OK).toBe(true);
          expect(Number.isNaN(Date.parse(j.Now))).toBe(false);
          expect(r.text.endsWith('}\n')).toBe(true);
          r.text = '<health>';
        }
      }
      expect({ name, ...ours }).toEqual({ name, ...theirs });
    }

    // etcd's /version on the same listener says what a 3.4 peer announces
    const v = (await (await fetch(`${etcdPeerUrl}/version`)).json()) as { etcdserver: string };
    expect(v.etcdserver).toBe('3.4.23');
  });
});
