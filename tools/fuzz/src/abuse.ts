import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { type Socket, connect as tcpConnect } from 'node:net';
import { type EtcdProcess, rng, startEtcd } from '@etcd-ts/testing';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import {
  Flags,
  FrameType,
  frame,
  grpcHeaders,
  grpcMessage,
  headerBlock,
  PREFACE,
  settings,
} from './h2raw.js';
import { allRpcs, encode, rpc } from './proto.js';
import { LIMITS } from './servers.js';
import { CHANNEL_OPTIONS, codeName, rawUnary } from './target.js';

/**
 * Raw abuse of apps/etcd alone (no reference to compare with): malformed HTTP/2 frames and
 * protobuf bytes, messages over the receive limit, thousands of streams, a watcher that
 * never reads, connections that stall mid-frame. After each scenario (and while its
 * connections are still open where that is the point) a second client must get answers,
 * and the process must still run.
 */

export interface AbuseResult {
  scenario: string;
  /** undefined: the server answered the probe and runs. */
  failure?: string;
  probeMs: number;
  /** The server's resident memory after the scenario, in MiB. */
  rssMiB?: number;
  log?: string;
}

interface Ctx {
  endpoint: string;
  host: string;
  port: number;
  r: () => number;
  /** Sockets and sessions to close when the scenario ends. */
  cleanup: (() => void)[];
  /** Runs the liveness probe now (while the abuse is still going on). */
  probeNow: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** A TCP connection that swallows whatever the server sends. */
function socket(ctx: Ctx): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: ctx.host, port: ctx.port }, () => resolve(s));
    s.on('error', () => {});
    s.on('data', () => {});
    s.once('error', reject);
    ctx.cleanup.push(() => s.destroy());
  });
}

/** An HTTP/2 session to the server. */
function session(ctx: Ctx, settingsOverride: http2.Settings = {}): http2.ClientHttp2Session {
  const s = http2.connect(`http://${ctx.endpoint}`, { settings: settingsOverride });
  s.on('error', () => {});
  ctx.cleanup.push(() => s.destroy());
  return s;
}

/** Sends one request on `s` and resolves with what came back (or 'timeout'), never rejecting. */
function h2request(
  s: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer[],
  ms = 5_000,
): Promise<string> {
  return new Promise((resolve) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = s.request(headers);
    } catch (err) {
      resolve(`request failed: ${(err as Error).message}`);
      return;
    }
    let out = '';
    const t = setTimeout(() => {
      req.close();
      resolve('timeout');
    }, ms);
    req.on('response', (h) => {
      out += `status ${String(h[':status'])} grpc-status ${String(h['grpc-status'] ?? '')} `;
    });
    req.on('trailers', (h) => {
      out += `grpc-status ${String(h['grpc-status'] ?? '')} ${String(h['grpc-message'] ?? '')}`;
    });
    req.on('data', () => {});
    req.on('error', (e) => {
      out += `error ${e.message}`;
    });
    req.on('close', () => {
      clearTimeout(t);
      resolve(out || `closed ${req.rstCode}`);
    });
    for (const b of body) req.write(b);
    req.end();
  });
}

const GRPC = {
  ':method': 'POST',
  'content-type': 'application/grpc',
  te: 'trailers',
};

/** Protobuf bytes that are not a valid message of any kind, and some that are but odd. */
function badProtobuf(r: () => number): Buffer {
  return pick(r, [
    () => randomBytes(r, 1 + Math.floor(r() * 64)),
    () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // bytes field longer than the message
    () => Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11-byte varint
    () => Buffer.from([0x18, 0x80]), // truncated varint
    () => Buffer.from([0x00, 0x01]), // field number 0
    () => Buffer.from([0x0b, 0x0c]), // group start/end (wire types 3, 4)
    () => Buffer.from([0x0f]), // wire type 7
    () => Buffer.from([0x0d, 0x01, 0x02]), // fixed32 cut short
    () => Buffer.from([0x09, 0x01]), // fixed64 cut short
    () => Buffer.from([0x1a, 0x02, 0x08]), // a nested message cut short
    () => Buffer.concat([Buffer.from([0xa2, 0x06, 0x03]), Buffer.from([0x08, 0x96, 0x01])]), // unknown field 100
    () => Buffer.from([0x0a, 0x00, 0x0a, 0x00, 0x0a, 0x00]), // a field repeated
    () => Buffer.alloc(4096, 0xff),
  ])();
}

type Scenario = (ctx: Ctx) => Promise<void>;

const SCENARIOS: Record<string, Scenario> = {
  /** Random bytes, an HTTP/1.1 request, a half preface, on fresh TCP connections. */
  async garbageTcp(ctx) {
    for (let i = 0; i < 30; i++) {
      const s = await socket(ctx);
      s.write(
        pick(ctx.r, [
          () => randomBytes(ctx.r, 1 + Math.floor(ctx.r() * 4096)),
          () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
          () =>
            Buffer.from(
              'POST /etcdserverpb.KV/Range HTTP/1.1\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0',
            ),
          () => PREFACE.subarray(0, 10),
          () => Buffer.concat([PREFACE, randomBytes(ctx.r, 512)]),
        ])(),
      );
      if (ctx.r() < 0.5) s.end();
    }
    await sleep(200);
  },

  /** Frames HTTP/2 forbids or a server must survive: wrong streams, lengths, floods. */
  async badFrames(ctx) {
    const bad: Buffer[] = [
      frame(FrameType.DATA, 0, 0, Buffer.from('x')), // DATA on stream 0
      frame(FrameType.HEADERS, Flags.END_HEADERS, 1, randomBytes(ctx.r, 40)), // broken HPACK
      frame(FrameType.HEADERS, 0, 1, headerBlock(grpcHeaders('/etcdserverpb.KV/Range'))), // no END_HEADERS
      frame(FrameType.CONTINUATION, Flags.END_HEADERS, 3, Buffer.from([0])), // CONTINUATION alone
      frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 0])), // zero increment
      Buffer.concat([
        frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])),
        frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])),
      ]), // window overflow
      frame(FrameType.PRIORITY, 0, 5, Buffer.from([0, 0, 0, 5, 16])), // depends on itself
      frame(FrameType.RST_STREAM, 0, 7, Buffer.from([0, 0, 0, 8])), // idle stream
      frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 4, 0xff, 0xff, 0xff, 0xff])), // window too large
      frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 5, 0, 0, 0, 1])), // max frame size too small
      frame(FrameType.SETTINGS, 0, 0, Buffer.from([1, 2, 3])), // length not a multiple of 6
      frame(FrameType.PING, 0, 0, Buffer.from([1, 2, 3])), // PING of the wrong length
      frame(FrameType.PUSH_PROMISE, Flags.END_HEADERS, 1, Buffer.alloc(8)), // client push
      frame(0xee, 0xff, 9, randomBytes(ctx.r, 30)), // unknown type
      frame(FrameType.DATA, 0, 1, Buffer.alloc(100), 1 << 23), // length over max frame size
      frame(FrameType.GOAWAY, 0, 0, Buffer.from([0, 0, 0, 0, 0, 0, 0, 2])),
      frame(FrameType.HEADERS, Flags.END_HEADERS | Flags.PADDED, 1, Buffer.from([200, 1, 2])), // padding > payload
      Buffer.concat(
        Array.from({ length: 2000 }, () => frame(FrameType.PING, 0, 0, Buffer.alloc(8))),
      ), // ping flood
      Buffer.concat(Array.from({ length: 1000 }, () => settings([[3, 100]]))), // settings flood
      Buffer.concat(
        Array.from({ length: 500 }, (_, i) =>
          frame(
            FrameType.HEADERS,
            Flags.END_HEADERS,
            2 * i + 1,
            headerBlock(grpcHeaders('/etcdserverpb.KV/Range')),
          ),
        ),
      ), // 500 streams opened, never ended
      Buffer.concat(
        Array.from({ length: 500 }, (_, i) =>
          Buffer.concat([
            frame(
              FrameType.HEADERS,
              Flags.END_HEADERS,
              2 * i + 1,
              headerBlock(grpcHeaders('/etcdserverpb.KV/Range')),
            ),
            frame(FrameType.RST_STREAM, 0, 2 * i + 1, Buffer.from([0, 0, 0, 8])),
          ]),
        ),
      ), // rapid reset (CVE-2023-44487)
    ];
    for (const b of bad) {
      const s = await socket(ctx);
      s.write(Buffer.concat([PREFACE, settings(), b]));
    }
    await sleep(300);
    await ctx.probeNow();
  },

  /** gRPC calls whose bodies are not what the method takes: bad prefixes, bad protobuf. */
  async badMessages(ctx) {
    const s = session(ctx);
    const paths = allRpcs().map((r) => r.path);
    const runs: Promise<string>[] = [];
    for (let i = 0; i < 120; i++) {
      const path = pick(ctx.r, [...paths, '/etcdserverpb.KV/Nope', '/nope.Service/X', '/', '']);
      const variant = Math.floor(ctx.r() * 9);
      let headers: http2.OutgoingHttpHeaders = { ...GRPC, ':path': path || '/' };
      let body: Buffer[];
      switch (variant) {
        case 0:
          body = [grpcMessage(badProtobuf(ctx.r))];
          break;
        case 1:
          body = [grpcMessage(Buffer.from('xx'), { compressed: true })]; // no grpc-encoding
          break;
        case 2:
          body = [grpcMessage(Buffer.alloc(10), { length: 1000 })]; // ends before the message
          break;
        case 3:
          body = [grpcMessage(Buffer.alloc(10), { length: 0xffffffff })];
          break;
        case 4:
          body = [grpcMessage(Buffer.alloc(0)), grpcMessage(Buffer.alloc(0))]; // two on a unary call
          break;
        case 5:
          body = [Buffer.from([0, 0, 0])]; // a prefix cut short
          break;
        case 6:
          headers = {
            ...headers,
            'grpc-encoding': pick(ctx.r, ['gzip', 'snappy', 'identity', 'deflate']),
          };
          body = [grpcMessage(randomBytes(ctx.r, 40), { compressed: true })];
          break;
        case 7:
          headers = {
            ...headers,
            'content-type': pick(ctx.r, [
              'application/json',
              'text/plain',
              'application/grpc+json',
            ]),
            'grpc-timeout': pick(ctx.r, ['1x', '99999999999H', '-1S', '0n', '']),
            token: pick(ctx.r, ['', 'x'.repeat(8000), '\u0001']),
          };
          body = [grpcMessage(Buffer.alloc(0))];
          break;
        default:
          headers = { ...headers, ':method': pick(ctx.r, ['GET', 'PUT', 'DELETE']) };
          body = [grpcMessage(Buffer.alloc(0))];
      }
      runs.push(h2request(s, headers, body, 3_000));
      if (runs.length >= 20) await Promise.all(runs.splice(0));
    }
    await Promise.all(runs);
  },

  /** Messages over the server's receive limit (--max-request-bytes plus gRPC's 512 KiB). */
  async oversized(ctx) {
    const client = new Client(ctx.endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
    ctx.cleanup.push(() => client.close());
    const put = rpc('KV.Put');
    for (const n of [LIMITS.maxRequestBytes + 600 * 1024, 4 << 20, 24 << 20]) {
      const bytes = encode(put.requestType, { key: 'big', value: { $repeat: 'b', n } });
      await rawUnary(client, put.path, bytes, new Metadata(), 20_000);
    }
    // And the same on a stream, whose other watchers must survive it.
    const s = session(ctx);
    await h2request(s, { ...GRPC, ':path': '/etcdserverpb.Watch/Watch' }, [
      grpcMessage(Buffer.alloc(0), { length: 64 << 20 }),
      Buffer.alloc(1 << 20),
    ]);
  },

  /** Thousands of watch streams over a few connections, held open during the probe. */
  async manyStreams(ctx) {
    const clients = Array.from(
      { length: 4 },
      () => new Client(ctx.endpoint, credentials.createInsecure(), CHANNEL_OPTIONS),
    );
    for (const c of clients) ctx.cleanup.push(() => c.close());
    const w = rpc('Watch.Watch');
    const create = encode(w.requestType, { create_request: { key: 'many', range_end: '\u0000' } });
    const id = (b: Buffer) => b;
    let answered = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const call = clients[i % clients.length]!.makeBidiStreamRequest(
        w.path,
        id,
        id,
        new Metadata(),
      );
      call.on('data', () => {
        answered++;
      });
      call.on('error', () => {});
      call.write(create);
      ctx.cleanup.push(() => call.cancel());
    }
    const deadline = Date.now() + 30_000;
    while (answered < n && Date.now() < deadline) await sleep(100);
    await ctx.probeNow();
    if (answered < n) throw new Error(`only ${answered} of ${n} watch creates answered in 30 s`);
    // Thousands of unary calls in flight at once.
    const range = rpc('KV.Range');
    const req = encode(range.requestType, { key: 'many' });
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        rawUnary(clients[i % clients.length]!, range.path, req),
      ),
    );
  },

  /** A watcher whose client never reads while others write: the server must not block on it. */
  async neverReads(ctx) {
    const s = session(ctx, { initialWindowSize: 1024 });
    const w = rpc('Watch.Watch');
    const req = s.request({ ...GRPC, ':path': w.path });
    req.on('error', () => {});
    req.pause(); // never read
    req.write(
      grpcMessage(encode(w.requestType, { create_request: { key: 'nr', range_end: '\u0000' } })),
    );
    const client = new Client(ctx.endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
    ctx.cleanup.push(() => client.close());
    const put = rpc('KV.Put');
    // About 19 MiB of events for a watcher that takes none of them.
    for (let i = 0; i < 600; i++) {
      const r = await rawUnary(
        client,
        put.path,
        encode(put.requestType, { key: `nr/${i % 5}`, value: { $repeat: 'n', n: 32 * 1024 } }),
      );
      if (r.code !== status.OK)
        throw new Error(`put ${i} while a watcher does not read: ${codeName(r.code)} ${r.details}`);
    }
    await ctx.probeNow();
  },

  /** Connections that stop in the middle of a frame, a header block, a message, the preface. */
  async stallMidFrame(ctx) {
    const path = pick(ctx.r, [
      '/etcdserverpb.KV/Range',
      '/etcdserverpb.KV/Put',
      '/etcdserverpb.Watch/Watch',
    ]);
    const headers = frame(FrameType.HEADERS, Flags.END_HEADERS, 1, headerBlock(grpcHeaders(path)));
    const stalls: Buffer[] = [
      PREFACE.subarray(0, 12),
      Buffer.concat([PREFACE, settings().subarray(0, 5)]),
      Buffer.concat([
        PREFACE,
        settings(),
        frame(FrameType.HEADERS, Flags.END_HEADERS, 1, Buffer.alloc(20), 200),
      ]),
      Buffer.concat([
        PREFACE,
        settings(),
        headers,
        frame(FrameType.DATA, 0, 1, Buffer.alloc(10), 100),
      ]),
      Buffer.concat([
        PREFACE,
        settings(),
        headers,
        frame(FrameType.DATA, 0, 1, grpcMessage(Buffer.alloc(50), { length: 1000 })),
      ]),
      Buffer.concat([PREFACE, settings(), headers]),
    ];
    for (let i = 0; i < 150; i++) {
      const s = await socket(ctx);
      s.write(stalls[i % stalls.length]!);
    }
    await sleep(500);
    await ctx.probeNow();
  },

  /** Connections opened and dropped mid-call, calls cancelled as soon as they start. */
  async churn(ctx) {
    const range = rpc('KV.Range');
    const req = encode(range.requestType, { key: 'churn', range_end: '\u0000' });
    for (let i = 0; i < 40; i++) {
      const c = new Client(ctx.endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
      const calls = Array.from({ length: 20 }, () =>
        c.makeUnaryRequest(
          range.path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          req,
          () => {},
        ),
      );
      if (ctx.r() < 0.5) for (const call of calls) call.cancel();
      c.close();
    }
    for (let i = 0; i < 60; i++) {
      const s = await socket(ctx);
      s.write(
        Buffer.concat([
          PREFACE,
          settings(),
          frame(FrameType.HEADERS, Flags.END_HEADERS, 1, headerBlock(grpcHeaders(range.path))),
          frame(FrameType.DATA, Flags.END_STREAM, 1, grpcMessage(req)),
        ]),
      );
      s.destroy();
    }
    await sleep(300);
  },

  /** A keep-alive stream flooded with requests for leases that do not exist, never read. */
  async keepAliveFlood(ctx) {
    const s = session(ctx, { initialWindowSize: 1024 });
    const k = rpc('Lease.LeaseKeepAlive');
    const req = s.request({ ...GRPC, ':path': k.path });
    req.on('error', () => {});
    req.pause();
    const one = grpcMessage(encode(k.requestType, { ID: 42 }));
    req.write(Buffer.concat(Array.from({ length: 20_000 }, () => one)));
    await sleep(500);
    await ctx.probeNow();
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);

function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Math.round(Number(m[1]) / 1024);
  } catch {
    return undefined;
  }
}

/**
 * Health checks every 200 ms on a connection of their own while a scenario runs; the first
 * one not answered within 5 s is a failure.
 */
function prober(endpoint: string): { stop: () => Promise<{ maxMs: number; failure?: string }> } {
  const client = new Client(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
  let running = true;
  let maxMs = 0;
  let failure: string | undefined;
  const loop = (async () => {
    while (running) {
      const t = Date.now();
      const r = await rawUnary(
        client,
        '/grpc.health.v1.Health/Check',
        Buffer.alloc(0),
        new Metadata(),
        5_000,
      );
      maxMs = Math.max(maxMs, Date.now() - t);
      if (r.code !== status.OK) {
        failure ??= `${codeName(r.code)} ${r.details}`;
        break;
      }
      await sleep(200);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      client.close();
      return failure === undefined ? { maxMs } : { maxMs, failure };
    },
  };
}

/** Put and read back a key, from a fresh connection: the server answers another client. */
async function liveness(endpoint: string): Promise<void> {
  const client = new Client(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const put = rpc('KV.Put');
    const key = `probe/${Date.now()}`;
    const p = await rawUnary(
      client,
      put.path,
      encode(put.requestType, { key, value: 'alive' }),
      new Metadata(),
      5_000,
    );
    if (p.code !== status.OK) throw new Error(`probe Put: ${codeName(p.code)} ${p.details}`);
    const range = rpc('KV.Range');
    const r = await rawUnary(
      client,
      range.path,
      encode(range.requestType, { key }),
      new Metadata(),
      5_000,
    );
    if (r.code !== status.OK) throw new Error(`probe Range: ${codeName(r.code)} ${r.details}`);
  } finally {
    client.close();
  }
}

/**
 * Runs the abuse scenarios (in a seeded order, with seeded parameters) against one fresh
 * apps/etcd until `deadline`, probing after each; a new server replaces one that failed.
 */
export async function runAbuse(
  bin: string,
  seed: number,
  deadline: number,
  log: (line: string) => void,
): Promise<AbuseResult[]> {
  const r = rng(seed ^ 0x5bd1e995);
  const results: AbuseResult[] = [];
  let proc: EtcdProcess | undefined;
  let round = 0;
  try {
    while (Date.now() < deadline) {
      // FUZZ_ABUSE=name,name runs only those scenarios (to watch one of them for leaks).
      const only = process.env.FUZZ_ABUSE?.split(',').filter((n) => SCENARIO_NAMES.includes(n));
      const names = only !== undefined && only.length > 0 ? only : SCENARIO_NAMES;
      const order = [...names].sort(() => r() - 0.5);
      for (const name of order) {
        if (Date.now() >= deadline) break;
        if (proc === undefined) {
          // The default quota: the never-reading watcher's writes must not meet NOSPACE.
          proc = await startAbused(bin);
        }
        const res = await runScenario(proc, name, r);
        results.push(res);
        log(
          `abuse ${name}: ${res.failure === undefined ? 'ok' : `FAILED: ${res.failure}`} (probe ${res.probeMs} ms, rss ${res.rssMiB ?? '?'} MiB)`,
        );
        if (res.failure !== undefined) {
          await proc.stop();
          proc = undefined;
        }
      }
      round++;
    }
  } finally {
    await proc?.stop();
  }
  void round;
  return results;
}

/** One apps/etcd with the default quota, retried on a port another process took meanwhile. */
async function startAbused(bin: string): Promise<EtcdProcess> {
  for (let i = 1; ; i++) {
    try {
      return await startEtcd({
        bin,
        args: [`--max-request-bytes=${LIMITS.maxRequestBytes}`],
        startTimeoutMs: 30_000,
      });
    } catch (err) {
      if (i >= 4 || !/address already in use|EADDRINUSE/.test(String((err as Error).message))) {
        throw err;
      }
    }
  }
}

async function runScenario(proc: EtcdProcess, name: string, r: () => number): Promise<AbuseResult> {
  const [host, portText] = proc.endpoint.split(':') as [string, string];
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  let probeMs = 0;
  const probeNow = async () => {
    const t = Date.now();
    if (exited) throw new Error('the server exited');
    await liveness(proc.endpoint);
    probeMs = Math.max(probeMs, Date.now() - t);
  };
  const ctx: Ctx = {
    endpoint: proc.endpoint,
    host,
    port: Number(portText),
    r,
    cleanup: [],
    probeNow,
  };
  let failure: string | undefined;
  // A second client asks all along, not only between scenarios.
  const background = prober(proc.endpoint);
  try {
    await SCENARIOS[name]!(ctx);
    await probeNow();
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    const bg = await background.stop();
    probeMs = Math.max(probeMs, bg.maxMs);
    if (failure === undefined && bg.failure !== undefined)
      failure = `background probe: ${bg.failure}`;
    for (const c of ctx.cleanup) {
      try {
        c();
      } catch {
        // already closed
      }
    }
  }
  // After the abusers are gone the server must still be there and answer.
  if (failure === undefined) {
    await sleep(100);
    try {
      await probeNow();
    } catch (err) {
      failure = `after cleanup: ${(err as Error).message}`;
    }
  }
  if (exited) failure = `the server exited${failure === undefined ? '' : ` (${failure})`}`;
  const res: AbuseResult = { scenario: name, probeMs };
  const rss = rssMiB(proc.pid);
  if (rss !== undefined) res.rssMiB = rss;
  if (failure !== undefined) {
    res.failure = failure;
    res.log = proc.logs().split('\n').slice(-30).join('\n');
  }
  return res;
}
