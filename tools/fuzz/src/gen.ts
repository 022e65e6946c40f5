import { rng } from '@etcd-ts/testing';
import type { AuthRef, CallOp, Json, JsonObject, Op } from './ops.js';
import { LIMITS } from './servers.js';

/**
 * The seeded generator of request sequences. A sequence ("epoch") is a pure function of
 * (seed, epoch number): the generator never looks at what a server answered. It keeps a
 * model of what its own requests probably created (keys, leases, users, roles, watch ids,
 * whether auth is on) so that later requests hit what exists, not only miss; the model is
 * optimistic and need not be right, since each server's answers are compared with the
 * other's, not with the model.
 */

/** Mixes a seed and an epoch number into the seed of that epoch's random stream. */
export function epochSeed(seed: number, epoch: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const MAX_SAFE = '9007199254740991';
const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';
const UINT64_MAX = '18446744073709551615';
/** Numbers at every edge a 64-bit field has: 2^31, 2^32, 2^53 ± 1, 2^63 - 1, -2^63. */
const EDGE_INTS: Json[] = [
  -1,
  -2,
  2147483647,
  2147483648,
  4294967295,
  4294967296,
  MAX_SAFE,
  '9007199254740992',
  '9007199254740993',
  INT64_MAX,
  INT64_MIN,
  '-9007199254740993',
];

/** A value too large for the quota on its own, and below --max-request-bytes. */
const HUGE = LIMITS.quotaBackendBytes + 4096;
/** Value bytes a sequence may write in total, far below what would reach the quota. */
const WRITE_BUDGET = 96 * 1024;

const KEY_POOL: Json[] = [
  'a',
  'b',
  'c',
  'foo',
  'foo/bar',
  'foo/baz',
  'foo0',
  'k',
  'k1',
  'k2',
  'z',
  '/',
  'a\u0000b',
  '\u0000',
  'ключ',
  '\u{1f511}',
  { $hex: 'ff' },
  { $hex: '00ff00' },
  { $hex: 'fe' },
];

const NAME_POOL = ['u1', 'u2', 'u3', 'alice', 'root', 'r1', 'r2'];
const ODD_NAMES: Json[] = [
  '',
  '\u0000',
  ' ',
  'a b',
  'a:b',
  'ROOT',
  'rööt',
  '*',
  'x'.repeat(300),
  'u1\u0000',
  '../..',
];

interface LeaseModel {
  slot: number;
  ttl: number;
  alive: boolean;
}

interface WatchStreamModel {
  stream: number;
  ids: number[];
  next: number;
}

interface UserModel {
  password: string;
  roles: Set<string>;
}

/** What the generator believes its own requests did. */
class Model {
  keys: string[] = [];
  revision = 1;
  compacted = 0;
  leases: LeaseModel[] = [];
  nextLease = 1;
  users = new Map<string, UserModel>();
  roles = new Set<string>();
  authEnabled = false;
  tokens = new Set<string>();
  watchStreams: WatchStreamModel[] = [];
  keepAlives: number[] = [];
  nextStream = 1;
  learners: number[] = [];
  nextMember = 1;
  nextPort = 1;
  written = 0;
  nospace = false;
  corrupt = false;
}

export interface GeneratorOptions {
  /** Ops in one sequence (a fresh pair of servers runs each sequence). */
  opsPerEpoch?: number;
  /** A check of every watch stream's events after this many ops. */
  checkEvery?: number;
}

type Weighted = [number, () => void];

export class Generator {
  readonly opsPerEpoch: number;
  readonly checkEvery: number;

  constructor(
    readonly seed: number,
    options: GeneratorOptions = {},
  ) {
    this.opsPerEpoch = options.opsPerEpoch ?? 250;
    this.checkEvery = options.checkEvery ?? 20;
  }

  /** The ops of sequence number `epoch`: always the same for the same seed. */
  epoch(epoch: number): Op[] {
    return new EpochBuilder(epochSeed(this.seed, epoch), this.opsPerEpoch, this.checkEvery).build();
  }
}

class EpochBuilder {
  private readonly r: () => number;
  private readonly m = new Model();
  private readonly ops: Op[] = [];

  constructor(
    seed: number,
    private readonly size: number,
    private readonly checkEvery: number,
  ) {
    this.r = rng(seed);
  }

  // ---- random helpers -------------------------------------------------------------------

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private weighted(choices: Weighted[]): void {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let x = this.r() * total;
    for (const [w, f] of choices) {
      x -= w;
      if (x < 0) {
        f();
        return;
      }
    }
    choices.at(-1)![1]();
  }

  // ---- values ---------------------------------------------------------------------------

  private key(): Json {
    if (this.m.keys.length > 0 && this.chance(0.6)) return this.pick(this.m.keys);
    return this.weightedValue([
      [20, () => this.pick(KEY_POOL)],
      [6, () => `k${this.int(20)}`],
      [3, () => `foo/${this.int(10)}`],
      [1, () => ''],
      [1, () => ({ $repeat: 'K', n: 1 + this.int(2000) })],
      [0.3, () => ({ $repeat: 'L', n: 32 * 1024 })],
      [0.2, () => ({ $repeat: 'M', n: LIMITS.maxRequestBytes - 200 + this.int(400) })],
    ]);
  }

  private weightedValue(choices: [number, () => Json][]): Json {
    let out: Json = null;
    this.weighted(choices.map(([w, f]) => [w, () => (out = f())]));
    return out;
  }

  /** A range end for `key`: none, every key from it, its prefix, an empty or reversed range. */
  private rangeEnd(key: Json): Json | undefined {
    return (
      this.weightedValue([
        [8, () => null],
        [3, () => '\u0000'],
        [3, () => prefixEnd(key)],
        [1, () => key],
        [1, () => 'a'],
        [1, () => this.pick(KEY_POOL)],
        [0.5, () => ({ $hex: 'ff' })],
        [0.5, () => ''],
      ]) ?? undefined
    );
  }

  private value(): Json {
    if (this.m.written > WRITE_BUDGET) return this.pick(['', 'v', 'x', 'value']);
    return this.weightedValue([
      [10, () => `v${this.int(1000)}`],
      [2, () => ''],
      [1, () => '\u0000'],
      [1, () => ({ $hex: 'c0ffee00' })],
      [1, () => ({ $repeat: 'v', n: 100 + this.int(2000) })],
      [0.2, () => ({ $repeat: 'w', n: 16 * 1024 })],
      [0.4, () => ({ $repeat: 'H', n: HUGE + this.int(64 * 1024) })],
    ]);
  }

  private revision(): Json {
    const rev = this.m.revision;
    return this.weightedValue([
      [6, () => 0],
      [3, () => Math.max(1, rev - this.int(5))],
      [2, () => rev],
      [1, () => rev + 1 + this.int(3)],
      [1, () => 1],
      [1, () => this.m.compacted],
      [1, () => this.pick(EDGE_INTS)],
      [0.5, () => -this.int(100)],
    ]);
  }

  private limit(): Json {
    return this.weightedValue([
      [6, () => 0],
      [4, () => 1 + this.int(4)],
      [1, () => -1],
      [1, () => 1000],
      [1, () => this.pick(EDGE_INTS)],
    ]);
  }

  /** An enum value: mostly a defined one, sometimes a number the enum does not define. */
  private enumOf(names: string[], unknown = 0.05): Json {
    if (this.chance(unknown))
      return this.pick([names.length, names.length + 1, 99, -1, 2147483647]);
    return this.pick(names);
  }

  private leaseRef(): Json {
    const live = this.m.leases.filter((l) => l.alive);
    return this.weightedValue([
      [live.length > 0 ? 8 : 0, () => ({ $lease: this.pick(live).slot })],
      [this.m.leases.length > 0 ? 2 : 0, () => ({ $lease: this.pick(this.m.leases).slot })],
      [1, () => 0],
      [1, () => 1 + this.int(1000)],
      [1, () => this.pick([-1, INT64_MAX, INT64_MIN, MAX_SAFE, '9007199254740993'])],
    ]);
  }

  private name(): string {
    if (this.m.users.size > 0 && this.chance(0.5)) return this.pick([...this.m.users.keys()]);
    if (this.chance(0.15)) return this.pick(ODD_NAMES) as string;
    return this.pick(NAME_POOL);
  }

  private roleName(): string {
    if (this.m.roles.size > 0 && this.chance(0.5)) return this.pick([...this.m.roles]);
    if (this.chance(0.1)) return this.pick(ODD_NAMES) as string;
    return this.pick(['r1', 'r2', 'r3', 'root', 'admin']);
  }

  private password(): string {
    return this.pick(['pw', 'pw', 'secret', '', 'p\u0000w', 'x'.repeat(100), 'пароль']);
  }

  /** The token a call carries: mostly root's or a user's once auth is on. */
  private auth(): AuthRef | undefined {
    const users = [...this.m.tokens];
    if (!this.m.authEnabled) {
      if (users.length > 0 && this.chance(0.1)) return { user: this.pick(users) };
      if (this.chance(0.03)) return { raw: 'not-a-token' };
      return undefined;
    }
    return (
      (this.weightedValue([
        [6, () => (this.m.tokens.has('root') ? { user: 'root' } : null)],
        [3, () => (users.length > 0 ? { user: this.pick(users) } : null)],
        [1, () => null],
        [0.5, () => ({ raw: this.pick(['garbage', '', 'a.1', `${'x'.repeat(16)}.2`]) })],
        // A simple token naming a raft index far ahead: etcd 3.4 waits for that index.
        [0.005, () => ({ raw: `${'x'.repeat(16)}.999999` })],
      ]) as AuthRef | undefined) ?? undefined
    );
  }

  // ---- emitting -------------------------------------------------------------------------

  private call(rpc: string, req: JsonObject, extra: Partial<CallOp> = {}): void {
    const op: CallOp = { kind: 'call', rpc, req };
    const auth = extra.auth === undefined && !('auth' in extra) ? this.auth() : extra.auth;
    if (auth !== undefined) op.auth = auth;
    if (extra.save !== undefined) op.save = extra.save;
    this.ops.push(op);
  }

  private wrote(key: Json, value: Json | undefined): void {
    if (typeof key === 'string' && key.length < 100 && !this.m.keys.includes(key)) {
      if (this.m.keys.length < 40) this.m.keys.push(key);
    }
    const n =
      typeof value === 'string'
        ? value.length
        : value !== null && typeof value === 'object' && 'n' in value
          ? (value.n as number)
          : 0;
    if (n >= LIMITS.quotaBackendBytes) {
      this.m.nospace = true;
      return;
    }
    if (!this.m.nospace && !this.m.corrupt) {
      this.m.written += n;
      this.m.revision++;
    }
  }

  build(): Op[] {
    let sinceCheck = 0;
    while (this.ops.length < this.size) {
      this.step();
      if (++sinceCheck >= this.checkEvery) {
        this.ops.push({ kind: 'check' });
        sinceCheck = 0;
      }
    }
    // Adding a voting member to a one-member cluster loses its quorum: only ever last.
    if (this.chance(0.05)) {
      this.call(
        'Cluster.MemberAdd',
        { peerURLs: ['http://127.0.0.1:9'] },
        { auth: this.rootAuth() },
      );
    }
    this.ops.push({ kind: 'check' });
    return this.ops;
  }

  private rootAuth(): AuthRef | undefined {
    return this.m.authEnabled && this.m.tokens.has('root') ? { user: 'root' } : undefined;
  }

  private step(): void {
    this.weighted([
      [12, () => this.put()],
      [10, () => this.range()],
      [4, () => this.deleteRange()],
      [6, () => this.txn()],
      [1.5, () => this.compact()],
      [8, () => this.watch()],
      [7, () => this.lease()],
      [3, () => this.keepAlive()],
      [9, () => this.authOp()],
      [this.m.authEnabled ? 1 : 2, () => this.enableAuthScript()],
      [3, () => this.cluster()],
      [5, () => this.maintenance()],
      [1, () => this.health()],
    ]);
  }

  // ---- KV -------------------------------------------------------------------------------

  private rangeReq(): JsonObject {
    const key = this.key();
    const req: JsonObject = { key };
    const end = this.rangeEnd(key);
    if (end !== undefined) req.range_end = end;
    if (this.chance(0.3)) req.limit = this.limit();
    if (this.chance(0.25)) req.revision = this.revision();
    if (this.chance(0.25)) req.sort_order = this.enumOf(['NONE', 'ASCEND', 'DESCEND'], 0.1);
    if (this.chance(0.25)) {
      // etcd 3.4 panics on a sort target it does not know: rarely, it costs a restart.
      req.sort_target = this.enumOf(['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'], 0.01);
    }
    if (this.chance(0.2)) req.serializable = true;
    if (this.chance(0.15)) req.keys_only = true;
    if (this.chance(0.15)) req.count_only = true;
    for (const f of [
      'min_mod_revision',
      'max_mod_revision',
      'min_create_revision',
      'max_create_revision',
    ]) {
      if (this.chance(0.05)) req[f] = this.revision();
    }
    return req;
  }

  private range(): void {
    this.call('KV.Range', this.rangeReq());
  }

  private putReq(): JsonObject {
    const key = this.key();
    const req: JsonObject = { key };
    if (this.chance(0.9)) req.value = this.value();
    if (this.chance(0.2)) req.lease = this.leaseRef();
    if (this.chance(0.2)) req.prev_kv = true;
    if (this.chance(0.07)) req.ignore_value = true;
    if (this.chance(0.07)) req.ignore_lease = true;
    this.wrote(key, req.value);
    return req;
  }

  private put(): void {
    this.call('KV.Put', this.putReq());
  }

  private deleteReq(): JsonObject {
    const key = this.key();
    const req: JsonObject = { key };
    const end = this.rangeEnd(key);
    if (end !== undefined) req.range_end = end;
    if (this.chance(0.3)) req.prev_kv = true;
    if (!this.m.nospace) this.m.revision++;
    return req;
  }

  private deleteRange(): void {
    this.call('KV.DeleteRange', this.deleteReq());
  }

  private compare(): JsonObject {
    const target = this.enumOf(['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'], 0.03);
    const c: JsonObject = {
      result: this.enumOf(['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'], 0.05),
      target,
      key: this.key(),
    };
    if (this.chance(0.1)) c.range_end = this.rangeEnd(c.key!) ?? '\u0000';
    // The union member usually matches the target, sometimes not, sometimes it is missing.
    const member = this.chance(0.85)
      ? (
          {
            VERSION: 'version',
            CREATE: 'create_revision',
            MOD: 'mod_revision',
            VALUE: 'value',
            LEASE: 'lease',
          } as Record<string, string>
        )[String(target)]
      : this.pick(['version', 'create_revision', 'mod_revision', 'value', 'lease', undefined]);
    if (member === 'value') c.value = this.pick(['', 'v1', `v${this.int(1000)}`, '\u0000']);
    else if (member === 'lease') c.lease = this.leaseRef();
    else if (member !== undefined) {
      c[member] = this.weightedValue([
        [5, () => this.int(4)],
        [3, () => this.m.revision - this.int(3)],
        [1, () => this.pick(EDGE_INTS)],
      ]);
    }
    return c;
  }

  private requestOp(depth: number): JsonObject {
    let op: JsonObject = {};
    this.weighted([
      [4, () => (op = { request_range: this.rangeReq() })],
      [4, () => (op = { request_put: this.putReq() })],
      [2, () => (op = { request_delete_range: this.deleteReq() })],
      [depth < 2 ? 1 : 0, () => (op = { request_txn: this.txnReq(depth + 1) })],
      [0.2, () => (op = {})],
    ]);
    return op;
  }

  private txnReq(depth = 0): JsonObject {
    const n = (max: number) =>
      this.chance(0.05) ? LIMITS.maxTxnOps + this.int(3) : this.int(max + 1);
    const req: JsonObject = {};
    const cmp = Array.from({ length: n(3) }, () => this.compare());
    const success = Array.from({ length: n(4) }, () => this.requestOp(depth));
    const failure = Array.from({ length: n(2) }, () => this.requestOp(depth));
    if (cmp.length > 0) req.compare = cmp;
    if (success.length > 0) req.success = success;
    if (failure.length > 0) req.failure = failure;
    return req;
  }

  private txn(): void {
    this.call('KV.Txn', this.txnReq());
  }

  private compact(): void {
    const rev = this.weightedValue([
      [5, () => Math.max(1, this.m.revision - this.int(10))],
      [1, () => this.m.revision + this.int(3)],
      [1, () => this.m.compacted],
      [1, () => this.pick([0, -1, ...EDGE_INTS])],
    ]);
    if (typeof rev === 'number' && rev > this.m.compacted && rev <= this.m.revision) {
      this.m.compacted = rev;
    }
    const req: JsonObject = { revision: rev };
    if (this.chance(0.3)) req.physical = true;
    this.call('KV.Compact', req);
  }

  // ---- Watch ----------------------------------------------------------------------------

  private watchStream(): WatchStreamModel {
    const open = this.m.watchStreams;
    if (open.length > 0 && (open.length >= 4 || this.chance(0.8))) return this.pick(open);
    const s: WatchStreamModel = { stream: this.m.nextStream++, ids: [], next: 0 };
    this.ops.push({ kind: 'open', stream: s.stream, rpc: 'Watch.Watch', ...optAuth(this.auth()) });
    open.push(s);
    return s;
  }

  private watch(): void {
    const s = this.watchStream();
    const send = (req: JsonObject) =>
      this.ops.push({ kind: 'send', stream: s.stream, rpc: 'Watch.Watch', req });
    this.weighted([
      [
        6,
        () => {
          const key = this.key();
          const c: JsonObject = { key };
          const end = this.rangeEnd(key);
          if (end !== undefined) c.range_end = end;
          if (this.chance(0.3)) c.start_revision = this.revision();
          if (this.chance(0.1)) c.progress_notify = true;
          if (this.chance(0.15)) {
            c.filters = Array.from({ length: 1 + this.int(2) }, () =>
              this.enumOf(['NOPUT', 'NODELETE'], 0.1),
            );
          }
          if (this.chance(0.2)) c.prev_kv = true;
          if (this.chance(0.1)) c.fragment = true;
          let id = s.next;
          if (this.chance(0.15)) {
            id = this.pick([0, 1, 2, 7, -1, ...(s.ids.length > 0 ? [this.pick(s.ids)] : [])]);
            c.watch_id = id;
          }
          if (id >= 0 && !s.ids.includes(id)) {
            s.ids.push(id);
            while (s.ids.includes(s.next)) s.next++;
          }
          send({ create_request: c });
        },
      ],
      [
        2,
        () => {
          const id =
            s.ids.length > 0 && this.chance(0.8) ? this.pick(s.ids) : this.pick([99, -1, 0]);
          s.ids = s.ids.filter((x) => x !== id);
          send({ cancel_request: { watch_id: id } });
        },
      ],
      [1, () => send({ progress_request: {} })],
      [0.3, () => send({})],
      [
        0.6,
        () => {
          this.ops.push({
            kind: 'close',
            stream: s.stream,
            how: this.chance(0.5) ? 'end' : 'cancel',
          });
          this.m.watchStreams = this.m.watchStreams.filter((x) => x !== s);
        },
      ],
    ]);
  }

  // ---- Lease ----------------------------------------------------------------------------

  private lease(): void {
    this.weighted([
      [5, () => this.grant()],
      [1, () => this.shortLease()],
      [2, () => this.revoke()],
      [
        3,
        () =>
          this.call('Lease.LeaseTimeToLive', {
            ID: this.leaseRef(),
            ...(this.chance(0.5) ? { keys: true } : {}),
          }),
      ],
      [1.5, () => this.call('Lease.LeaseLeases', {})],
    ]);
  }

  private grant(): void {
    const slot = this.m.nextLease++;
    const ttl = this.weightedValue([
      [8, () => 600 + this.int(3000)],
      [1, () => 9000000000],
      [1, () => 9000000001],
      [1, () => this.pick([0, -1, -600, ...EDGE_INTS])],
    ]);
    const req: JsonObject = { TTL: ttl };
    if (this.chance(0.2)) {
      req.ID = this.weightedValue([
        [3, () => 1000 + slot],
        [this.m.leases.length > 0 ? 2 : 0, () => ({ $lease: this.pick(this.m.leases).slot })],
        [1, () => this.pick([-1, INT64_MAX, INT64_MIN, '9007199254740993'])],
      ]);
    }
    // A short, valid TTL would expire at a different instant on each server: never here.
    const ok = typeof ttl === 'number' && ttl >= 600 && ttl <= 9000000000;
    this.m.leases.push({ slot, ttl: ok ? ttl : 0, alive: ok });
    this.call('Lease.LeaseGrant', req, { save: { lease: slot } });
  }

  /** A lease of a short TTL (raised to etcd's minimum), revoked before it can expire. */
  private shortLease(): void {
    const slot = this.m.nextLease++;
    this.call('Lease.LeaseGrant', { TTL: this.pick([1, 2, 3]) }, { save: { lease: slot } });
    this.call('Lease.LeaseRevoke', { ID: { $lease: slot } });
    this.m.leases.push({ slot, ttl: 0, alive: false });
  }

  private revoke(): void {
    const id = this.leaseRef();
    const slot = refOf(id, '$lease');
    if (slot !== undefined) {
      const l = this.m.leases.find((x) => x.slot === slot);
      if (l !== undefined) l.alive = false;
    }
    this.call('Lease.LeaseRevoke', { ID: id });
  }

  private keepAlive(): void {
    if (this.m.keepAlives.length === 0 || this.chance(0.15)) {
      const stream = this.m.nextStream++;
      this.m.keepAlives.push(stream);
      this.ops.push({ kind: 'open', stream, rpc: 'Lease.LeaseKeepAlive', ...optAuth(this.auth()) });
    }
    const stream = this.pick(this.m.keepAlives);
    if (this.chance(0.1)) {
      this.ops.push({ kind: 'close', stream, how: this.chance(0.5) ? 'end' : 'cancel' });
      this.m.keepAlives = this.m.keepAlives.filter((s) => s !== stream);
      return;
    }
    this.ops.push({
      kind: 'send',
      stream,
      rpc: 'Lease.LeaseKeepAlive',
      req: this.chance(0.05) ? {} : { ID: this.leaseRef() },
    });
  }

  // ---- Auth -----------------------------------------------------------------------------

  /** The steps that turn auth on: root with the root role, a user with a role, enable. */
  private enableAuthScript(): void {
    const root = this.rootAuth();
    if (!this.m.users.has('root')) {
      this.call('Auth.UserAdd', { name: 'root', password: 'rootpw' }, { auth: root });
      this.m.users.set('root', { password: 'rootpw', roles: new Set() });
    }
    this.call('Auth.UserGrantRole', { user: 'root', role: 'root' }, { auth: root });
    this.m.users.get('root')?.roles.add('root');
    const user = this.pick(['u1', 'u2']);
    const role = this.pick(['r1', 'r2']);
    if (!this.m.users.has(user)) {
      this.call('Auth.UserAdd', { name: user, password: 'pw' }, { auth: root });
      this.m.users.set(user, { password: 'pw', roles: new Set() });
    }
    this.call('Auth.RoleAdd', { name: role }, { auth: root });
    this.m.roles.add(role);
    this.call('Auth.RoleGrantPermission', { name: role, perm: this.permission() }, { auth: root });
    this.call('Auth.UserGrantRole', { user, role }, { auth: root });
    if (!this.m.authEnabled) {
      this.call('Auth.AuthEnable', {}, { auth: root });
      this.m.authEnabled = true;
    }
    this.authenticate('root', 'rootpw');
    this.authenticate(user, this.m.users.get(user)!.password);
  }

  private authenticate(name: string, password: string): void {
    this.call('Auth.Authenticate', { name, password }, { auth: undefined, save: { token: name } });
    this.m.tokens.add(name);
  }

  private permission(): JsonObject {
    const key = this.key();
    const perm: JsonObject = { permType: this.enumOf(['READ', 'WRITE', 'READWRITE'], 0.05), key };
    const end = this.rangeEnd(key);
    if (end !== undefined) perm.range_end = end;
    return perm;
  }

  private authOp(): void {
    const user = this.name();
    const role = this.roleName();
    this.weighted([
      [
        3,
        () => {
          const password = this.password();
          const req: JsonObject = { name: user, password };
          if (this.chance(0.1)) req.options = { no_password: true };
          this.call('Auth.UserAdd', req);
          if (!this.m.users.has(user)) this.m.users.set(user, { password, roles: new Set() });
        },
      ],
      [2, () => this.call('Auth.UserGet', { name: user })],
      [1, () => this.call('Auth.UserList', {})],
      [
        1,
        () => {
          this.call('Auth.UserDelete', { name: user });
          if (user !== 'root' || !this.m.authEnabled) this.m.users.delete(user);
        },
      ],
      [
        1,
        () => {
          const password = this.password();
          this.call('Auth.UserChangePassword', { name: user, password });
          const u = this.m.users.get(user);
          if (u !== undefined) u.password = password;
        },
      ],
      [
        2,
        () => {
          this.call('Auth.UserGrantRole', { user, role });
          this.m.users.get(user)?.roles.add(role);
        },
      ],
      [1, () => this.call('Auth.UserRevokeRole', { name: user, role })],
      [
        2,
        () => {
          this.call('Auth.RoleAdd', { name: role });
          this.m.roles.add(role);
        },
      ],
      [1, () => this.call('Auth.RoleGet', { role })],
      [1, () => this.call('Auth.RoleList', {})],
      [
        0.7,
        () => {
          this.call('Auth.RoleDelete', { role });
          this.m.roles.delete(role);
        },
      ],
      [3, () => this.call('Auth.RoleGrantPermission', { name: role, perm: this.permission() })],
      // No permission at all: etcd 3.4 dereferences it and panics, so rarely.
      [0.02, () => this.call('Auth.RoleGrantPermission', { name: role })],
      [
        1,
        () => {
          const key = this.key();
          const req: JsonObject = { role, key };
          const end = this.rangeEnd(key);
          if (end !== undefined) req.range_end = end;
          this.call('Auth.RoleRevokePermission', req);
        },
      ],
      [
        3,
        () => {
          const u = this.m.users.get(user);
          const password = u !== undefined && this.chance(0.8) ? u.password : this.password();
          this.authenticate(user, password);
        },
      ],
      [
        0.6,
        () => {
          this.call('Auth.AuthEnable', {});
          if (this.m.users.get('root')?.roles.has('root')) this.m.authEnabled = true;
        },
      ],
      [
        0.5,
        () => {
          this.call('Auth.AuthDisable', {});
          if (this.m.authEnabled && this.chance(0.7)) this.m.authEnabled = false;
        },
      ],
      [1, () => this.call('Auth.AuthStatus', {})],
    ]);
  }

  // ---- Cluster --------------------------------------------------------------------------

  private memberRef(): Json {
    return this.weightedValue([
      [3, () => ({ $member: 'self' })],
      [this.m.learners.length > 0 ? 4 : 0, () => ({ $member: this.pick(this.m.learners) })],
      [1, () => 0],
      [1, () => this.pick([1, 12345, UINT64_MAX, INT64_MAX, '9007199254740993'])],
    ]);
  }

  private peerUrls(): Json[] {
    return this.weightedValue([
      [6, () => [`http://127.0.0.1:${this.m.nextPort++}`]],
      [1, () => [{ $url: 'self-peer' }]],
      [1, () => []],
      [
        2,
        () => [
          this.pick([
            'notaurl',
            '',
            'http://',
            'unix://x',
            'http://127.0.0.1:2380/path',
            'https://[::1]:7',
            'http://127.0.0.1:1',
            'http://127.0.0.1:1',
          ]),
        ],
      ],
      [0.5, () => ['http://127.0.0.1:3', 'http://127.0.0.1:3']],
    ]) as Json[];
  }

  private cluster(): void {
    const root = this.m.authEnabled ? this.auth() : undefined;
    this.weighted([
      [3, () => this.call('Cluster.MemberList', this.chance(0.3) ? { linearizable: true } : {})],
      [
        2,
        () => {
          const slot = this.m.nextMember++;
          this.call(
            'Cluster.MemberAdd',
            { peerURLs: this.peerUrls(), isLearner: true },
            { auth: root, save: { member: slot } },
          );
          if (this.m.learners.length < 3) this.m.learners.push(slot);
        },
      ],
      [
        1,
        () => {
          // A voting member only with a URL the server refuses (see build()).
          const urls = this.pick([
            [{ $url: 'self-peer' }],
            ['notaurl'],
            [],
            ['http://[::1'],
            ['ftp://x:1'],
          ]);
          this.call('Cluster.MemberAdd', { peerURLs: urls as Json[] }, { auth: root });
        },
      ],
      [
        1.5,
        () => {
          const id = this.memberRef();
          this.call('Cluster.MemberRemove', { ID: id }, { auth: root });
          const slot = refOf(id, '$member');
          if (typeof slot === 'number') {
            this.m.learners = this.m.learners.filter((l) => l !== slot);
          }
        },
      ],
      [
        1,
        () => {
          const id = this.memberRef();
          // Only a learner's peer URLs change: the server's own stay where it listens.
          const urls = refOf(id, '$member') === 'self' ? [{ $url: 'self-peer' }] : this.peerUrls();
          this.call('Cluster.MemberUpdate', { ID: id, peerURLs: urls as Json[] }, { auth: root });
        },
      ],
      [1, () => this.call('Cluster.MemberPromote', { ID: this.memberRef() }, { auth: root })],
    ]);
  }

  // ---- Maintenance and health -----------------------------------------------------------

  private maintenance(): void {
    this.weighted([
      [3, () => this.alarm()],
      [2, () => this.call('Maintenance.Status', {})],
      [0.7, () => this.call('Maintenance.Defragment', {})],
      [0.7, () => this.call('Maintenance.Hash', {})],
      [
        1.5,
        () =>
          this.call('Maintenance.HashKV', this.chance(0.5) ? { revision: this.revision() } : {}),
      ],
      [0.4, () => this.call('Maintenance.Snapshot', {})],
      [
        0.8,
        () => {
          // Never to a learner: etcd then waits out its own timeout, a matter of timing.
          const target = this.weightedValue([
            [3, () => ({ $member: 'self' })],
            [1, () => this.pick([0, 12345, UINT64_MAX, '9007199254740993'])],
          ]);
          this.call('Maintenance.MoveLeader', { targetID: target });
        },
      ],
      [
        0.8,
        () => {
          const req: JsonObject = { action: this.enumOf(['VALIDATE', 'ENABLE', 'CANCEL'], 0.1) };
          if (this.chance(0.8))
            req.version = this.pick(['3.4', '3.4.0', '3.5', '3.3', '', 'x.y', '3']);
          this.call('Maintenance.Downgrade', req);
        },
      ],
    ]);
  }

  private alarm(): void {
    // An action etcd 3.4 does not know makes it panic: rarely.
    const action = this.enumOf(['GET', 'ACTIVATE', 'DEACTIVATE'], 0.01);
    const req: JsonObject = { action };
    if (this.chance(0.8)) req.memberID = this.chance(0.8) ? { $member: 'self' } : this.memberRef();
    // CORRUPT is rarer: it stops every write until it is deactivated.
    if (this.chance(0.9))
      req.alarm = this.chance(0.2) ? this.enumOf(['NONE', 'CORRUPT'], 0.2) : 'NOSPACE';
    if (action === 'DEACTIVATE' && req.alarm === 'NOSPACE') this.m.nospace = false;
    if (action === 'ACTIVATE' && req.alarm === 'NOSPACE') this.m.nospace = true;
    if (action === 'DEACTIVATE' && req.alarm === 'CORRUPT') this.m.corrupt = false;
    if (action === 'ACTIVATE' && req.alarm === 'CORRUPT') this.m.corrupt = true;
    this.call('Maintenance.Alarm', req);
    // Disarm soon after an alarm, or the rest of the sequence only meets refusals.
    if ((this.m.nospace || this.m.corrupt) && this.chance(0.5)) {
      this.call(
        'Maintenance.Alarm',
        {
          action: 'DEACTIVATE',
          memberID: { $member: 'self' },
          alarm: this.m.corrupt ? 'CORRUPT' : 'NOSPACE',
        },
        { auth: this.rootAuth() },
      );
      if (this.m.corrupt) this.m.corrupt = false;
      else this.m.nospace = false;
    }
  }

  private health(): void {
    const service = this.pick(['', '', 'etcdserverpb.KV', 'nope', '\u0000']);
    this.call(this.chance(0.7) ? 'Health.Check' : 'Health.Watch', { service }, { auth: undefined });
  }
}

/** The value of a `{"$lease": k}`-style ref, or undefined when `v` is not one. */
function refOf(v: Json, ref: string): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v[ref] : undefined;
}

function optAuth(auth: AuthRef | undefined): { auth?: AuthRef } {
  return auth === undefined ? {} : { auth };
}

/** The range end that selects every key with `key` as a prefix (etcd's GetPrefixRangeEnd). */
export function prefixEnd(key: Json): Json {
  let b: Buffer;
  if (typeof key === 'string') b = Buffer.from(key, 'utf8');
  else if (
    key !== null &&
    typeof key === 'object' &&
    !Array.isArray(key) &&
    typeof key.$hex === 'string'
  ) {
    b = Buffer.from(key.$hex, 'hex');
  } else {
    return '\u0000';
  }
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]!++;
      const s = end.toString('utf8');
      return Buffer.from(s, 'utf8').equals(end) ? s : { $hex: end.toString('hex') };
    }
  }
  return '\u0000';
}
