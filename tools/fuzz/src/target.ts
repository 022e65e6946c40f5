import { createHash } from 'node:crypto';
import {
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { Normaliser, type ServerIdentity } from './normalise.js';
import {
  type AuthRef,
  type CallOp,
  type CloseOp,
  DANGLING_LEASE,
  DANGLING_MEMBER,
  type Json,
  type JsonObject,
  type Op,
  type OpenOp,
  type SendOp,
} from './ops.js';
import { decode, encode, rpc } from './proto.js';

/** How long one call may take before the fuzzer gives up on it (etcd's own timeouts are 7 s). */
export const CALL_TIMEOUT_MS = 12_000;
/** A watch stream is quiet when nothing arrived for this long (etcd 3.4 syncs every 100 ms). */
export const QUIET_MS = 250;

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

const identity = (b: Buffer) => b;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The gRPC channel options of every fuzz client: no size limits of our own. */
export const CHANNEL_OPTIONS = {
  'grpc.max_send_message_length': -1,
  'grpc.max_receive_message_length': -1,
  'grpc.enable_retries': 0,
  // Every client its own connection: a probe must not ride on the fuzzer's connection.
  'grpc.use_local_subchannel_pool': 1,
} as const;

interface RawResult {
  code: number;
  details: string;
  bytes?: Buffer;
}

/** A bidirectional stream of one target: every answer decoded, kept in order. */
class Duplex {
  readonly messages: JsonObject[] = [];
  ended: { code: string; message: string } | undefined;
  lastActivity = Date.now();
  sent = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly rpcName: 'Watch.Watch' | 'Lease.LeaseKeepAlive',
    readonly call: ClientDuplexStream<Buffer, Buffer>,
    private readonly onMessage: (m: JsonObject) => void,
  ) {
    const type = rpc(rpcName).responseType;
    call.on('data', (b: Buffer) => {
      const d = decode(type, b);
      const m = d.ok ? d.value : { $undecodable: d.error };
      this.messages.push(m);
      this.onMessage(m);
      this.touch();
    });
    call.on('error', (e: ServiceError) => {
      this.ended ??= { code: codeName(e.code), message: e.details };
      this.touch();
    });
    call.on('status', (s: { code: number; details: string }) => {
      this.ended ??= { code: codeName(s.code), message: s.details };
      this.touch();
    });
  }

  private touch(): void {
    this.lastActivity = Date.now();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `done()` holds or the stream ends or `ms` pass; returns whether it holds. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (this.ended !== undefined) return done();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }
}

/** A Watch stream: what each watch id received, in order, response boundaries ignored. */
class WatchState {
  creates = 0;
  created = 0;
  /** Watch ids created and not canceled on this stream. */
  readonly active = new Set<string>();
  readonly perWatch = new Map<string, Json[]>();
  duplex!: Duplex;

  add(id: string, entry: Json): void {
    let l = this.perWatch.get(id);
    if (l === undefined) {
      l = [];
      this.perWatch.set(id, l);
    }
    l.push(entry);
  }

  view(): JsonObject {
    const out: JsonObject = {};
    for (const id of [...this.perWatch.keys()].sort((a, b) => Number(a) - Number(b))) {
      out[id] = this.perWatch.get(id)!;
    }
    return out;
  }
}

/**
 * One server under test: its connection, what the sequence saved on it (lease and member
 * ids, tokens), its open streams, and the normaliser of its answers. `run` executes one op
 * and returns its normalised observation, to be compared with the other server's.
 */
export class Target {
  readonly client: Client;
  readonly norm: Normaliser;
  private readonly leases = new Map<number, string>();
  private readonly members = new Map<number, string>();
  private readonly tokens = new Map<string, string>();
  private readonly watches = new Map<number, WatchState>();
  private readonly keepAlives = new Map<number, Duplex>();

  constructor(
    readonly label: string,
    readonly endpoint: string,
    readonly self: ServerIdentity,
  ) {
    this.client = new Client(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
    this.norm = new Normaliser(self);
  }

  /** Connects to a server that serves clients and learns its identity. */
  static async connect(
    label: string,
    endpoint: string,
    urls: { peerUrl: string; clientUrl: string },
  ): Promise<Target> {
    const probe = new Client(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
    try {
      const r = await rawUnary(probe, '/etcdserverpb.Maintenance/Status', Buffer.alloc(0));
      if (r.code !== status.OK || r.bytes === undefined) {
        throw new Error(`${label}: Status failed: ${codeName(r.code)} ${r.details}`);
      }
      const d = decode(rpc('Maintenance.Status').responseType, r.bytes);
      if (!d.ok) throw new Error(`${label}: Status undecodable: ${d.error}`);
      const h = d.value.header as JsonObject;
      return new Target(label, endpoint, {
        memberId: String(h.member_id),
        clusterId: String(h.cluster_id),
        peerUrl: urls.peerUrl,
        clientUrl: urls.clientUrl,
        startRevision: Number(h.revision ?? 0),
      });
    } finally {
      probe.close();
    }
  }

  close(): void {
    for (const w of this.watches.values()) w.duplex.call.cancel();
    for (const k of this.keepAlives.values()) k.call.cancel();
    this.client.close();
  }

  private metadata(auth: AuthRef | undefined): Metadata {
    const md = new Metadata();
    if (auth === undefined) return md;
    const token = 'raw' in auth ? auth.raw : this.tokens.get(auth.user);
    if (token !== undefined) md.set('token', token);
    return md;
  }

  /** A request with its refs resolved to this server's ids; literal ids labelled as themselves. */
  resolve(rpcName: string, req: JsonObject): JsonObject {
    const service = rpcName.split('.')[0];
    const walk = (v: Json, key: string): Json => {
      if (Array.isArray(v)) return v.map((x) => walk(x, key));
      if (v === null || typeof v !== 'object') {
        if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v))) {
          const id = BigInt.asIntN(64, BigInt(v)).toString();
          const uid = BigInt.asUintN(64, BigInt(v)).toString();
          if (key === 'lease' || (service === 'Lease' && key === 'ID')) this.norm.leases.fix(id);
          if ((service === 'Cluster' && key === 'ID') || key === 'targetID' || key === 'memberID') {
            this.norm.members.fix(uid);
          }
        }
        return v;
      }
      if ('$lease' in v) return this.leases.get(v.$lease as number) ?? DANGLING_LEASE;
      if ('$member' in v) {
        return v.$member === 'self'
          ? this.self.memberId
          : (this.members.get(v.$member as number) ?? DANGLING_MEMBER);
      }
      if ('$url' in v) return v.$url === 'self-peer' ? this.self.peerUrl : this.self.clientUrl;
      if ('$hex' in v || '$repeat' in v) return v;
      const out: JsonObject = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    };
    return walk(req, '') as JsonObject;
  }

  /** Runs one op and returns what this server answered, normalised. */
  async run(op: Op): Promise<JsonObject> {
    switch (op.kind) {
      case 'call':
        return rpc(op.rpc).serverStream ? this.serverStream(op) : this.unary(op);
      case 'open':
        this.open(op);
        return {};
      case 'send':
        return this.send(op);
      case 'close':
        return this.closeStream(op);
      case 'check':
        return this.check();
    }
  }

  private async unary(op: CallOp): Promise<JsonObject> {
    const r = rpc(op.rpc);
    const req = this.resolve(op.rpc, op.req);
    const bytes = encode(r.requestType, req);
    const res = await rawUnary(this.client, r.path, bytes, this.metadata(op.auth));
    if (res.code !== status.OK) {
      // grpc-js's own deadline text carries timings: keep only that the deadline passed.
      const message =
        res.code === status.DEADLINE_EXCEEDED && res.details.startsWith('Deadline exceeded after')
          ? '<client deadline exceeded>'
          : this.norm.message(res.details);
      return { code: codeName(res.code), message };
    }
    const d = decode(r.responseType, res.bytes ?? Buffer.alloc(0));
    if (!d.ok) return { code: 'OK', undecodable: d.error };
    this.save(op, d.value);
    return { code: 'OK', resp: this.norm.response(op.rpc, d.value) };
  }

  private save(op: CallOp, resp: JsonObject): void {
    if (op.save === undefined) return;
    if ('lease' in op.save && resp.ID !== undefined) {
      this.leases.set(op.save.lease, String(resp.ID));
    } else if ('member' in op.save) {
      const id = (resp.member as JsonObject | undefined)?.ID;
      if (id !== undefined) this.members.set(op.save.member, String(id));
    } else if ('token' in op.save && typeof resp.token === 'string') {
      this.tokens.set(op.save.token, resp.token);
    }
  }

  private serverStream(op: CallOp): Promise<JsonObject> {
    const r = rpc(op.rpc);
    const bytes = encode(r.requestType, this.resolve(op.rpc, op.req));
    const call = this.client.makeServerStreamRequest(
      r.path,
      identity,
      identity,
      bytes,
      this.metadata(op.auth),
      { deadline: Date.now() + CALL_TIMEOUT_MS },
    );
    const chunks: Buffer[] = [];
    const messages: JsonObject[] = [];
    const first = op.rpc === 'Health.Watch';
    return new Promise((resolve) => {
      let done = false;
      const finish = (code: number, details: string) => {
        if (done) return;
        done = true;
        const out: JsonObject = { code: codeName(code) };
        if (code !== status.OK && !(first && code === status.CANCELLED)) {
          out.message = this.norm.message(details);
        }
        if (op.rpc === 'Maintenance.Snapshot') {
          // The file differs (bbolt pages, sizes): compare that it arrived whole.
          const all = Buffer.concat(chunks);
          const body = all.subarray(0, Math.max(0, all.length - 32));
          const sum = createHash('sha256').update(body).digest();
          out.snapshot = {
            received: all.length > 0,
            sha256Trailer: all.length > 32 && sum.equals(all.subarray(all.length - 32)),
            lastRemaining: (messages.at(-1)?.remaining_bytes as Json | undefined) ?? 0,
          };
        } else {
          out.resp = messages.map((m) => this.norm.response(op.rpc, m));
        }
        resolve(out);
      };
      call.on('data', (b: Buffer) => {
        const d = decode(r.responseType, b);
        const m = d.ok ? d.value : { $undecodable: d.error };
        if (op.rpc === 'Maintenance.Snapshot') {
          const raw = r.responseType.decode(b) as unknown as { blob?: Uint8Array };
          if (raw.blob !== undefined) chunks.push(Buffer.from(raw.blob));
          messages.push({ remaining_bytes: (m.remaining_bytes as Json) ?? 0 });
        } else {
          messages.push(m);
        }
        if (first) call.cancel();
      });
      call.on('error', (e: ServiceError) => finish(e.code, e.details));
      call.on('status', (s: { code: number; details: string }) => finish(s.code, s.details));
    });
  }

  private open(op: OpenOp): void {
    const r = rpc(op.rpc);
    const call = this.client.makeBidiStreamRequest(
      r.path,
      identity,
      identity,
      this.metadata(op.auth),
    );
    if (op.rpc === 'Watch.Watch') {
      this.closeOld(op.stream);
      const w = new WatchState();
      w.duplex = new Duplex('Watch.Watch', call, (m) => this.onWatch(w, m));
      this.watches.set(op.stream, w);
    } else {
      this.closeOld(op.stream);
      this.keepAlives.set(op.stream, new Duplex('Lease.LeaseKeepAlive', call, () => {}));
    }
  }

  private closeOld(stream: number): void {
    this.watches.get(stream)?.duplex.call.cancel();
    this.watches.delete(stream);
    this.keepAlives.get(stream)?.call.cancel();
    this.keepAlives.delete(stream);
  }

  private onWatch(w: WatchState, m: JsonObject): void {
    const id = String(m.watch_id ?? 0);
    const rev = this.norm.rev((m.header as JsonObject | undefined)?.revision ?? 0);
    const events = (m.events as JsonObject[] | undefined) ?? [];
    const extra = (e: JsonObject) => {
      if (m.cancel_reason !== undefined)
        e.cancel_reason = this.norm.message(String(m.cancel_reason));
      if (m.compact_revision !== undefined) e.compact_revision = this.norm.rev(m.compact_revision);
      return e;
    };
    if (m.created === true) {
      w.created++;
      w.add(id, extra({ created: true, canceled: m.canceled === true, revision: rev }));
      if (m.canceled !== true) w.active.add(id);
    }
    for (const e of events) w.add(id, { event: this.norm.event(e) });
    if (m.created !== true && m.canceled === true) {
      w.add(id, extra({ canceled: true, revision: rev }));
      w.active.delete(id);
    }
    if (m.created !== true && m.canceled !== true && events.length === 0) {
      // `alone`: the stream had no watcher when the notification came.
      w.add(id, extra(w.active.size === 0 ? { progress: rev, alone: true } : { progress: rev }));
    }
    if (m.$undecodable !== undefined) w.add(id, { undecodable: m.$undecodable as Json });
  }

  private async send(op: SendOp): Promise<JsonObject> {
    if (op.rpc === 'Watch.Watch') {
      if (!this.watches.has(op.stream)) this.open({ kind: 'open', stream: op.stream, rpc: op.rpc });
      const w = this.watches.get(op.stream)!;
      const d = w.duplex;
      if (d.ended !== undefined) return { ended: d.ended };
      d.call.write(encode(rpc(op.rpc).requestType, this.resolve(op.rpc, op.req)));
      if ('create_request' in op.req) {
        const want = ++w.creates;
        const ok = await d.until(() => w.created >= want, 5_000);
        if (!ok) return d.ended !== undefined ? { ended: d.ended } : { created: 'no answer' };
        // The create's answer is on its watch id's list (compared at the next check).
        return { created: true };
      }
      const before = d.messages.length;
      await d.until(() => d.messages.length > before, 150);
      return d.ended !== undefined ? { ended: d.ended } : {};
    }
    if (!this.keepAlives.has(op.stream))
      this.open({ kind: 'open', stream: op.stream, rpc: op.rpc });
    const k = this.keepAlives.get(op.stream)!;
    if (k.ended !== undefined) return { ended: k.ended };
    const want = ++k.sent;
    k.call.write(encode(rpc(op.rpc).requestType, this.resolve(op.rpc, op.req)));
    const ok = await k.until(() => k.messages.length >= want, 5_000);
    if (!ok) return k.ended !== undefined ? { ended: k.ended } : { answer: 'none' };
    return { resp: this.norm.response(op.rpc, k.messages[want - 1]!) };
  }

  private async closeStream(op: CloseOp): Promise<JsonObject> {
    const w = this.watches.get(op.stream);
    const d = w?.duplex ?? this.keepAlives.get(op.stream);
    if (d === undefined) return { stream: 'not open' };
    if (w !== undefined) await quiet([w.duplex]);
    const out: JsonObject = {};
    if (op.how === 'cancel') {
      d.call.cancel();
    } else {
      // etcd keeps a half-closed watch stream open: wait only a moment for an end.
      d.call.end();
      await d.until(() => false, 1_000);
      out.end = d.ended ?? 'still open';
    }
    if (w !== undefined) out.watches = w.view();
    this.watches.delete(op.stream);
    this.keepAlives.delete(op.stream);
    return out;
  }

  /** Every open watch stream's events per watch id, once they went quiet. */
  private async check(): Promise<JsonObject> {
    const ws = [...this.watches.entries()];
    await quiet(ws.map(([, w]) => w.duplex));
    const out: JsonObject = {};
    for (const [n, w] of ws) {
      out[String(n)] =
        w.duplex.ended === undefined ? w.view() : { ...w.view(), ended: w.duplex.ended };
    }
    return { watches: out };
  }
}

/** Waits until none of the streams received anything for {@link QUIET_MS} (at most 3 s). */
async function quiet(ds: Duplex[]): Promise<void> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const last = Math.max(0, ...ds.map((d) => d.lastActivity));
    const since = Date.now() - last;
    if (since >= QUIET_MS || Date.now() >= deadline) return;
    await sleep(QUIET_MS - since);
  }
}

/** One unary call with bytes in and bytes out. */
export function rawUnary(
  client: Client,
  path: string,
  bytes: Buffer,
  md: Metadata = new Metadata(),
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<RawResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      identity,
      identity,
      bytes,
      md,
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ code: status.OK, details: '', bytes: res ?? Buffer.alloc(0) });
      },
    );
  });
}
