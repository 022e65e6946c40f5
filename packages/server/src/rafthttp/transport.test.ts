// Transports of several members over real loopback sockets, and a hostile peer's requests
// answered with etcd's codes and texts.

import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import {
  type Entry,
  encodeMessage,
  type Message,
  MessageType,
  newEntry,
  newMessage,
  newSnapshot,
} from '@etcd-ts/raft';
import { makeCerts } from '@etcd-ts/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../clock.js';
import type { Logger } from '../config.js';
import { encodeFrame } from './codec.js';
import {
  CONN_PER_PIPELINE,
  CONN_READ_TIMEOUT_MS,
  CONN_WRITE_TIMEOUT_MS,
  ERR_MEMBER_REMOVED,
  LINK_HEARTBEAT_INTERVAL_MS,
  type OutgoingSnapshot,
  PeerHTTPError,
  PIPELINE_BUF_SIZE,
  STREAM_BUF_SIZE,
  Transport,
  type TransportConfig,
} from './index.js';

const CLUSTER = 0x1000n;

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

interface TestMember {
  id: bigint;
  url: string;
  port: number;
  t: Transport;
  received: Message[];
  unreachable: bigint[];
  snapshotReports: { id: bigint; failed: boolean }[];
  critical: Error[];
  logs: LogLine[];
  /** Events in order: 'saved <index>' and 'processed <type>'. */
  events: string[];
  removed: Set<bigint>;
  close(): Promise<void>;
}

interface MemberOptions {
  port?: number;
  process?: (m: Message) => Promise<void>;
  cfg?: Partial<TransportConfig>;
  tls?: { cert: Buffer; key: Buffer; ca: Buffer };
}

const open: TestMember[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

async function startMember(id: bigint, opts: MemberOptions = {}): Promise<TestMember> {
  let transport: Transport | undefined;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!transport?.handle(req, res)) {
      res.statusCode = 404;
      res.end('404 page not found\n');
    }
  };
  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, requestTimeout: 0 }, handler)
    : http.createServer({ requestTimeout: 0 }, handler);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const logs: LogLine[] = [];
  const log =
    (level: string) =>
    (fields: object, msg: string): void => {
      logs.push({ level, msg, fields: fields as Record<string, unknown> });
    };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  const m: TestMember = {
    id,
    url,
    port,
    t: undefined as unknown as Transport,
    received: [],
    unreachable: [],
    snapshotReports: [],
    critical: [],
    logs,
    events: [],
    removed: new Set(),
    close: async () => {
      await transport?.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  transport = new Transport({
    localId: id,
    clusterId: CLUSTER,
    peerUrls: [url],
    serverVersion: '3.4.23',
    minClusterVersion: '3.0.0',
    clusterVersion: () => '3.4.0',
    raft: {
      process: async (msg) => {
        if (opts.process) await opts.process(msg);
        m.events.push(`processed ${msg.type}`);
        m.received.push(msg);
      },
      isIDRemoved: (rid) => m.removed.has(rid),
      reportUnreachable: (rid) => m.unreachable.push(rid),
      reportSnapshot: (rid, failed) => m.snapshotReports.push({ id: rid, failed }),
    },
    snapshots: {
      saveDBFrom: async (body, index) => {
        const h = createHash('sha256');
        let n = 0;
        for await (const c of body) {
          h.update(c);
          n += c.length;
        }
        m.events.push(`saved ${index} ${n} ${h.digest('hex')}`);
        return n;
      },
    },
    logger,
    clock: realClock,
    tls: opts.tls ? { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key } : undefined,
    onCriticalError: (err) => m.critical.push(err),
    ...opts.cfg,
  });
  m.t = transport;
  open.push(m);
  return m;
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function logged(m: TestMember, msg: string, fields: Record<string, unknown> = {}): number {
  return m.logs.filter(
    (l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l.fields[k] === v),
  ).length;
}

/** Both writers of `m` towards `peer` are attached (the peer dialed both streams). */
async function streamsUp(a: TestMember, b: TestMember): Promise<void> {
  for (const [m, peer] of [
    [a, b],
    [b, a],
  ] as const) {
    for (const type of ['stream MsgApp v2', 'stream Message']) {
      await waitUntil(
        `${m.id} writer ${type}`,
        () =>
          logged(m, 'established TCP streaming connection with remote peer', {
            'stream-writer-type': type,
            'remote-peer-id': peer.id.toString(16),
          }) > 0,
      );
    }
  }
}

/** Which way the transport would send m now (the peer's pick). */
function channelOf(m: TestMember, msg: Message): string {
  const peers = (m.t as unknown as { peers: Map<bigint, { pick(x: Message): [unknown, string] }> })
    .peers;
  return peers.get(msg.to)!.pick(msg)[1];
}

/** Messages as their bytes (decoded fields are views of what was read, Buffers). */
const wire = (ms: Message[]) => ms.map((m) => Buffer.from(encodeMessage(m)).toString('hex'));

const ent = (index: number, term: number, data = `entry ${index}`): Entry =>
  newEntry({ index, term, data: Uint8Array.from(Buffer.from(data)) });

describe('two members', () => {
  it('exchange messages over the two streams, MsgApp on msgappv2, in order', async () => {
    const a = await startMember(0xaan);
    const b = await startMember(0xbbn);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    await streamsUp(a, b);
    expect(a.t.activePeers()).toBe(1);
    expect(a.t.activeSince(b.id)).toBeGreaterThan(0);
    expect(logged(a, 'peer became active', { 'peer-id': 'bb' })).toBe(1);

    const msgs: Message[] = [];
    let index = 10;
    msgs.push(
      newMessage({ type: MessageType.MsgApp, from: a.id, to: b.id, term: 3, logTerm: 2, index }),
    );
    for (let i = 0; i < 500; i++) {
      const entries = [ent(index + 1, 3), ent(index + 2, 3)];
      msgs.push(
        newMessage({
          type: MessageType.MsgApp,
          from: a.id,
          to: b.id,
          term: 3,
          logTerm: i === 0 ? 2 : 3,
          index,
          entries,
          commit: index,
        }),
      );
      index += 2;
      if (i % 50 === 0) {
        msgs.push(newMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 3 }));
      }
    }
    expect(channelOf(a, msgs[0]!)).toBe('streamMsgAppV2');
    expect(channelOf(a, msgs[2]!)).toBe('streamMsg');
    a.t.send(msgs);
    await waitUntil('all messages', () => b.received.length === msgs.length);
    // Each stream keeps its order; heartbeats and appends travel on different streams.
    const apps = (xs: Message[]) => xs.filter((m) => m.type === MessageType.MsgApp);
    expect(wire(apps(b.received))).toEqual(wire(apps(msgs)));
    expect(b.received.filter((m) => m.type === MessageType.MsgHeartbeat)).toHaveLength(10);

    b.t.send([newMessage({ type: MessageType.MsgAppResp, from: b.id, to: a.id, term: 3, index })]);
    await waitUntil('the answer', () => a.received.length === 1);
    expect(a.received[0]!.index).toBe(index);
    expect(a.unreachable).toEqual([]);
  });

  it('use the pipeline while no stream works, and a remote to answer an unknown sender', async () => {
    const a = await startMember(0xan);
    const b = await startMember(0xbn);
    a.t.addPeer(b.id, [b.url]);
    // b does not know a: it refuses a's stream GETs (404) and learns a's URL from them.
    await waitUntil('b adds a as a remote', () => logged(b, 'added new remote peer') > 0);
    const vote = newMessage({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 2 });
    expect(channelOf(a, vote)).toBe('pipeline');
    a.t.send([vote]);
    await waitUntil('the vote', () => b.received.length === 1);
    expect(wire(b.received)).toEqual(wire([vote]));
    // A POST answered 204 makes b active for a, though only until the next refused stream
    // dial makes it inactive again: the log shows it was.
    await waitUntil('b active for a', () => logged(a, 'peer became active') > 0);

    b.t.send([newMessage({ type: MessageType.MsgVoteResp, from: b.id, to: a.id, term: 2 })]);
    await waitUntil('the answer through the remote', () => a.received.length === 1);
    expect(a.received[0]!.type).toBe(MessageType.MsgVoteResp);
    expect(
      logged(a, 'failed to find remote peer in cluster') +
        logged(b, 'failed to find remote peer in cluster'),
    ).toBeGreaterThan(0);
  });

  it('stream a database snapshot of a few MiB, saved before raft hears of it', async () => {
    const a = await startMember(1n);
    const b = await startMember(2n);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    const size = 5 * 1024 * 1024 + 123;
    const chunk = 64 * 1024;
    const expected = createHash('sha256');
    async function* db(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < size; off += chunk) {
        const c = new Uint8Array(Math.min(chunk, size - off));
        for (let i = 0; i < c.length; i++) c[i] = (off + i) % 251;
        expected.update(c);
        yield c;
      }
    }
    const message = newMessage({
      type: MessageType.MsgSnap,
      from: a.id,
      to: b.id,
      term: 4,
      snapshot: newSnapshot({
        data: Uint8Array.from(Buffer.from('{"members":[]}')),
        metadata: { confState: { voters: [1n, 2n] }, index: 42, term: 4 },
      }),
    });
    let result: boolean | undefined;
    const s: OutgoingSnapshot = { message, db: db(), size, done: (ok) => (result = ok) };
    a.t.sendSnapshot(s);
    await waitUntil('the snapshot', () => result !== undefined, 20_000);
    expect(result).toBe(true);
    expect(b.events).toEqual([`saved 42 ${size} ${expected.digest('hex')}`, 'processed 7']);
    expect(wire(b.received)).toEqual(wire([message]));
    expect(a.snapshotReports).toEqual([{ id: b.id, failed: false }]);
    expect(
      logged(b, 'received and saved database snapshot', { 'incoming-snapshot-size-bytes': size }),
    ).toBe(1);
    expect(logged(a, 'sent database snapshot')).toBe(1);
  });

  it('report a refused snapshot as failed, to raft and to its sender', async () => {
    const a = await startMember(1n);
    const b = await startMember(2n, { cfg: { clusterId: CLUSTER + 1n } });
    a.t.addPeer(b.id, [b.url]);
    let result: boolean | undefined;
    async function* db(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) yield new Uint8Array(64 * 1024);
    }
    a.t.sendSnapshot({
      message: newMessage({
        type: MessageType.MsgSnap,
        from: a.id,
        to: b.id,
        snapshot: newSnapshot({ metadata: { index: 5, term: 1 } }),
      }),
      db: db(),
      done: (ok) => (result = ok),
    });
    await waitUntil('the refusal', () => result !== undefined);
    expect(result).toBe(false);
    expect(a.snapshotReports).toEqual([{ id: b.id, failed: true }]);
    expect(a.unreachable).toContain(b.id);
    const fail = a.logs.find((l) => l.msg === 'failed to send database snapshot');
    expect(fail?.fields.error).toBe('cluster ID mismatch');
    expect(b.events).toEqual([]);
  });

  it('re-establish the streams when a peer goes down and comes back', async () => {
    const a = await startMember(1n);
    let b = await startMember(2n);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    await streamsUp(a, b);
    const port = b.port;
    await b.close();
    open.splice(open.indexOf(b), 1);
    await waitUntil('a sees b inactive', () => a.t.activeSince(b.id) === 0);
    expect(logged(a, 'peer became inactive (message send to peer failed)')).toBe(1);
    expect(logged(a, 'lost TCP streaming connection with remote peer')).toBeGreaterThan(0);
    // While b is away, what a sends goes to the pipeline, fails and is reported.
    a.t.send([newMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })]);
    await waitUntil('unreachable', () => a.unreachable.includes(b.id));

    b = await startMember(2n, { port });
    b.t.addPeer(a.id, [a.url]);
    await waitUntil('a sees b again', () => a.t.activeSince(b.id) > 0);
    await waitUntil(
      'a writes to b again',
      () => channelOf(a, newMessage({ type: MessageType.MsgApp, to: b.id })) === 'streamMsgAppV2',
    );
    a.t.send([newMessage({ type: MessageType.MsgApp, from: a.id, to: b.id, term: 2, index: 1 })]);
    await waitUntil('delivered', () => b.received.length === 1);
  });

  it('talk over https with the peer TLS settings', async () => {
    const certs = await makeCerts();
    const fs = await import('node:fs/promises');
    const tls = {
      ca: await fs.readFile(certs.ca),
      cert: await fs.readFile(certs.serverCert),
      key: await fs.readFile(certs.serverKey),
    };
    const a = await startMember(1n, { tls });
    const b = await startMember(2n, { tls });
    expect(a.url.startsWith('https://')).toBe(true);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    await streamsUp(a, b);
    a.t.send([newMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })]);
    await waitUntil('delivered', () => b.received.length === 1);
  });
});

describe('bounded queues', () => {
  it('drop what the pipeline cannot hold and report the peer unreachable, without waiting', async () => {
    // a peer that accepts connections and never answers: the pipeline's POSTs hang
    const sockets = new Set<import('node:net').Socket>();
    const hang = http.createServer(() => {});
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    try {
      const a = await startMember(1n);
      a.t.addPeer(9n, [url]);
      const n = 1000;
      const msgs = Array.from({ length: n }, (_, i) =>
        newMessage({
          type: i === n - 1 ? MessageType.MsgSnap : MessageType.MsgVote,
          from: 1n,
          to: 9n,
        }),
      );
      const start = performance.now();
      a.t.send(msgs);
      expect(performance.now() - start).toBeLessThan(500);
      // the pipeline's workers took one each, its queue holds 64: the rest is dropped
      expect(a.unreachable).toHaveLength(n - CONN_PER_PIPELINE - PIPELINE_BUF_SIZE);
      expect(a.snapshotReports).toEqual([{ id: 9n, failed: true }]);
      expect(
        logged(
          a,
          'dropped internal Raft message since sending buffer is full (overloaded network)',
        ),
      ).toBe(n - CONN_PER_PIPELINE - PIPELINE_BUF_SIZE);
    } finally {
      for (const s of sockets) s.destroy();
      hang.close();
    }
  });

  it('drop what a stream cannot hold', async () => {
    const a = await startMember(1n);
    const b = await startMember(2n);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    await streamsUp(a, b);
    const n = STREAM_BUF_SIZE + 500;
    const msgs = Array.from({ length: n }, () =>
      newMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 }),
    );
    a.t.send(msgs);
    // the stream's writer had taken one already waiting; the queue holds the next 4096
    expect(a.unreachable).toHaveLength(n - STREAM_BUF_SIZE - 1);
    await waitUntil('the rest delivered', () => b.received.length === STREAM_BUF_SIZE + 1);
  });
});

describe('removed members', () => {
  it('a removed member is refused its streams (410) and told to stop', async () => {
    const a = await startMember(1n);
    const b = await startMember(2n);
    b.removed.add(a.id);
    a.t.addPeer(b.id, [b.url]);
    b.t.addPeer(a.id, [a.url]);
    await waitUntil('a hears it was removed', () => a.critical.length > 0);
    expect(a.critical[0]!.message).toBe(ERR_MEMBER_REMOVED);
    expect(logged(b, 'rejected stream from remote peer because it was removed')).toBeGreaterThan(0);
  });

  it('a message raft rejects as from a removed member answers 403, read as removed', async () => {
    const a = await startMember(1n);
    const b = await startMember(2n, {
      process: async () => {
        throw new PeerHTTPError(403, 'cannot process message from removed member');
      },
    });
    a.t.addPeer(b.id, [b.url]);
    a.t.send([newMessage({ type: MessageType.MsgVote, from: a.id, to: b.id })]);
    await waitUntil('a hears it was removed', () => a.critical.length > 0);
    expect(a.critical[0]!.message).toBe(ERR_MEMBER_REMOVED);
  });
});

describe('a hostile peer', () => {
  let b: TestMember;

  const H = (over: Record<string, string> = {}): Record<string, string> => ({
    'X-Server-From': '1',
    'X-Server-Version': '3.4.23',
    'X-Min-Cluster-Version': '3.0.0',
    'X-Etcd-Cluster-ID': CLUSTER.toString(16),
    ...over,
  });

  async function ask(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {},
  ): Promise<{ status: number; text: string; headers: Headers }> {
    const ctl = new AbortController();
    const res = await fetch(`${b.url}${path}`, {
      method: init.method ?? 'GET',
      headers: init.headers,
      body: init.body,
      signal: ctl.signal,
    });
    if (res.status === 200 && path.startsWith('/raft/stream/')) {
      ctl.abort();
      return { status: 200, text: '', headers: res.headers };
    }
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  const frameOf = (m: Message) => encodeFrame(m);

  it('is answered with etcd codes and texts', async () => {
    b = await startMember(2n, {
      cfg: { maxMessageBytes: 4096 },
      process: async (m) => {
        if (m.type === MessageType.MsgHup) throw new Error('raft is stopped');
      },
    });
    b.t.addPeer(1n, ['http://127.0.0.1:1']);
    b.removed.add(3n);
    const vote = newMessage({ type: MessageType.MsgVote, from: 1n, to: 2n, term: 1 });
    const cases: [
      string,
      Promise<{ status: number; text: string; headers: Headers }>,
      number,
      string,
    ][] = [
      ['pipeline GET', ask('/raft'), 405, 'Method Not Allowed\n'],
      [
        'cluster id',
        ask('/raft', { method: 'POST', headers: H({ 'X-Etcd-Cluster-ID': 'ff' }) }),
        412,
        'cluster ID mismatch\n',
      ],
      [
        'old server',
        ask('/raft', { method: 'POST', headers: H({ 'X-Server-Version': '2.3.8' }) }),
        412,
        'incompatible version\n',
      ],
      [
        'newer min cluster',
        ask('/raft', { method: 'POST', headers: H({ 'X-Min-Cluster-Version': '3.5.0' }) }),
        412,
        'incompatible version\n',
      ],
      [
        'no versions at all (etcd 2.0)',
        ask('/raft', { method: 'POST', headers: { 'X-Etcd-Cluster-ID': '1000' } }),
        412,
        'incompatible version\n',
      ],
      [
        'garbage',
        ask('/raft', { method: 'POST', headers: H(), body: Uint8Array.of(0x3a, 0x64, 1) }),
        400,
        'error unmarshalling raft message\n',
      ],
      [
        'too large',
        ask('/raft', { method: 'POST', headers: H(), body: new Uint8Array(5000) }),
        413,
        'rafthttp: error limit exceeded\n',
      ],
      [
        'raft fails',
        ask('/raft', { method: 'POST', headers: H(), body: new Uint8Array(0) }),
        500,
        'error processing raft message\n',
      ],
      [
        'delivered',
        ask('/raft', { method: 'POST', headers: H(), body: frameOf(vote).subarray(8) }),
        204,
        '',
      ],
      [
        'stream POST',
        ask('/raft/stream/message/1', { method: 'POST', headers: H() }),
        405,
        'Method Not Allowed\n',
      ],
      [
        'stream wrong cluster',
        ask('/raft/stream/message/1', { headers: H({ 'X-Etcd-Cluster-ID': '1' }) }),
        412,
        'cluster ID mismatch\n',
      ],
      ['stream kind', ask('/raft/stream/msgappv2/1', { headers: H() }), 404, 'invalid path\n'],
      ['stream from', ask('/raft/stream/message/xyz', { headers: H() }), 404, 'invalid from\n'],
      ['stream removed', ask('/raft/stream/message/3', { headers: H() }), 410, 'removed member\n'],
      [
        'stream unknown',
        ask('/raft/stream/message/4', { headers: H({ 'X-Raft-To': '2' }) }),
        404,
        'error sender not found\n',
      ],
      [
        'stream to',
        ask('/raft/stream/message/1', { headers: H({ 'X-Raft-To': '02' }) }),
        412,
        'to field mismatch\n',
      ],
      ['stream ok', ask('/raft/stream/msgapp/1', { headers: H({ 'X-Raft-To': '2' }) }), 200, ''],
      ['snapshot GET', ask('/raft/snapshot'), 405, 'Method Not Allowed\n'],
      [
        'snapshot not MsgSnap',
        ask('/raft/snapshot', { method: 'POST', headers: H(), body: frameOf(vote) }),
        400,
        'wrong raft message type\n',
      ],
      [
        'snapshot truncated',
        ask('/raft/snapshot', {
          method: 'POST',
          headers: H(),
          body: frameOf(vote).subarray(0, 12),
        }),
        400,
        'failed to decode raft message (unexpected EOF)\n',
      ],
      [
        'snapshot oversized',
        ask('/raft/snapshot', {
          method: 'POST',
          headers: H(),
          body: Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0),
        }),
        400,
        'failed to decode raft message (rafthttp: error limit exceeded)\n',
      ],
      ['elsewhere under /raft', ask('/raft/nothing'), 404, '404 page not found\n'],
    ];
    for (const [name, p, status, text] of cases) {
      const r = await p;
      expect({ name, status: r.status, text: r.text }).toEqual({ name, status, text });
    }
    const clusterRefusal = await ask('/raft', {
      method: 'POST',
      headers: H({ 'X-Etcd-Cluster-ID': 'ff' }),
    });
    expect(clusterRefusal.headers.get('x-etcd-cluster-id')).toBe('1000');
    expect(clusterRefusal.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(clusterRefusal.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await ask('/raft', { method: 'PUT' })).headers.get('allow')).toBe('POST');
    expect(
      (await ask('/raft/stream/message/1', { headers: H({ 'X-Raft-To': '2' }) })).headers.get(
        'x-server-version',
      ),
    ).toBe('3.4.23');

    const probe = await ask('/raft/probing');
    expect(probe.status).toBe(200);
    const health = JSON.parse(probe.text) as { OK: boolean; Now: string };
    expect(health.OK).toBe(true);
    expect(Math.abs(Date.parse(health.Now) - Date.now())).toBeLessThan(5000);

    // paths that are not the transport's are left to the server
    expect((await ask('/members')).status).toBe(404);
    expect(wire(b.received)).toEqual(wire([vote]));
  });

  it('a malformed stream closes that stream only', async () => {
    // "b" is a fake peer whose message stream sends garbage; its msgapp stream is fine.
    let dials = 0;
    const fake = http.createServer((req, res) => {
      res.setHeader('X-Server-Version', '3.4.23');
      res.writeHead(200);
      if (req.url?.startsWith('/raft/stream/message/')) {
        dials++;
        res.end(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 2, 0x3a, 0x64));
        return;
      }
      const enc = Buffer.from([2, ...new Array(7).fill(0), 0]);
      void enc;
      res.write(Uint8Array.of(0)); // a link heartbeat, then silence (kept open)
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const a = await startMember(1n);
      a.t.addPeer(2n, [`http://127.0.0.1:${(fake.address() as AddressInfo).port}`]);
      await waitUntil('several redials of the broken stream', () => dials >= 3);
      expect(
        a.logs.some(
          (l) =>
            l.msg === 'lost TCP streaming connection with remote peer' &&
            l.fields['stream-reader-type'] === 'stream Message' &&
            String(l.fields.error).includes('failed to unmarshal'),
        ),
      ).toBe(true);
      expect(
        logged(a, 'lost TCP streaming connection with remote peer', {
          'stream-reader-type': 'stream MsgApp v2',
        }),
      ).toBe(0);
    } finally {
      fake.closeAllConnections();
      fake.close();
    }
  });
});

describe('timeouts', () => {
  it('a stream that reads nothing for the read timeout is dropped and redialed', async () => {
    let dials = 0;
    const silent = http.createServer((_req, res) => {
      dials++;
      res.setHeader('X-Server-Version', '3.4.23');
      res.writeHead(200);
      res.flushHeaders(); // then nothing, not even a link heartbeat
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const a = await startMember(1n);
      a.t.addPeer(2n, [`http://127.0.0.1:${(silent.address() as AddressInfo).port}`]);
      await waitUntil('both streams up', () => dials === 2);
      const start = Date.now();
      await waitUntil(
        'the read timeout',
        () => a.logs.some((l) => String(l.fields.error).includes('i/o timeout')),
        CONN_READ_TIMEOUT_MS + 3000,
      );
      expect(Date.now() - start).toBeGreaterThanOrEqual(CONN_READ_TIMEOUT_MS - 1500);
      await waitUntil('redialed', () => dials >= 3);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 20_000);

  it('a stream whose reader stops reading is dropped after the write timeout', async () => {
    const b = await startMember(2n);
    b.t.addPeer(1n, ['http://127.0.0.1:9']); // nothing listens there: b's own dials fail
    // a hostile "member 1" dials b's message stream and never reads what comes
    const sock = net.connect(b.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(
      'GET /raft/stream/message/1 HTTP/1.1\r\nHost: x\r\nX-Server-From: 1\r\n' +
        'X-Server-Version: 3.4.23\r\nX-Min-Cluster-Version: 3.0.0\r\n' +
        `X-Etcd-Cluster-ID: ${CLUSTER.toString(16)}\r\nX-Raft-To: 2\r\n\r\n`,
    );
    await new Promise<void>((r) => sock.once('data', () => r()));
    sock.pause();
    try {
      await waitUntil(
        'b writes on the stream',
        () => channelOf(b, newMessage({ type: MessageType.MsgHeartbeat, to: 1n })) === 'streamMsg',
      );
      const big = newEntry({ index: 1, term: 1, data: new Uint8Array(1024 * 1024) });
      const msgs = Array.from({ length: 40 }, () =>
        newMessage({ type: MessageType.MsgHeartbeat, from: 2n, to: 1n, entries: [big] }),
      );
      b.t.send(msgs);
      await waitUntil(
        'the write timeout',
        // (b's own dials keep failing, so the peer is inactive already: "deactivated again")
        () =>
          b.logs.some((l) =>
            String(l.fields.error).includes('failed to write 1 on stream Message (i/o timeout)'),
          ),
        CONN_WRITE_TIMEOUT_MS + LINK_HEARTBEAT_INTERVAL_MS + 3000,
      );
      // what was still queued for that connection is gone, and raft was told
      expect(b.unreachable).toContain(1n);
      expect(channelOf(b, msgs[0]!)).toBe('pipeline');
    } finally {
      sock.destroy();
    }
  }, 20_000);
});
