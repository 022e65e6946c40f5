import type { Json, JsonObject } from './ops.js';

/**
 * Maps the values two servers legitimately pick differently (member and cluster ids, lease
 * ids the server chooses, tokens, raft terms and indexes, db sizes, remaining TTLs,
 * versions) to labels, so that two answers can be compared field by field.
 *
 * Ids are labelled by first appearance on each server: the first lease id a server answers
 * is `lease#1` on both, whatever number each picked. An id the client itself sent (a
 * literal in a request) is its own label, so a client-chosen lease id stays visible.
 */
export class IdLabels {
  private readonly labels = new Map<string, string>();
  private next = 1;

  constructor(private readonly prefix: string) {}

  /** An id the client chose: labelled as itself. */
  fix(raw: string): void {
    if (!this.labels.has(raw)) this.labels.set(raw, raw);
  }

  /** Names an id that stands for itself only (the server's own member id...). */
  name(raw: string, label: string): void {
    this.labels.set(raw, label);
  }

  label(raw: string): string {
    if (raw === '0') return '0';
    let l = this.labels.get(raw);
    if (l === undefined) {
      l = `${this.prefix}#${this.next++}`;
      this.labels.set(raw, l);
    }
    return l;
  }

  /** The raw id behind a label (for tests and printing). */
  rawOf(label: string): string | undefined {
    for (const [raw, l] of this.labels) if (l === label) return raw;
    return undefined;
  }
}

/** What a server is, learned when it starts. */
export interface ServerIdentity {
  memberId: string;
  clusterId: string;
  peerUrl: string;
  clientUrl: string;
  /** The store revision before the first op. */
  startRevision: number;
}

const str = (v: unknown): string => (typeof v === 'number' ? String(v) : (v as string));

export class Normaliser {
  readonly members = new IdLabels('member');
  readonly leases = new IdLabels('lease');

  constructor(readonly self: ServerIdentity) {
    this.members.name(self.memberId, 'self');
  }

  /** A revision relative to the first op (both servers start fresh at the same one). */
  rev(v: unknown): Json {
    if (typeof v !== 'number' || v <= 0) return v as Json;
    return v - this.self.startRevision + 1;
  }

  /** An error text with the server's own ids and URLs replaced. */
  message(m: string): string {
    const hex = BigInt(this.self.memberId).toString(16);
    return m
      .split(this.self.memberId)
      .join('<self>')
      .split(hex)
      .join('<self>')
      .split(this.self.peerUrl)
      .join('<self-peer>')
      .split(this.self.clientUrl)
      .join('<self-client>');
  }

  header(h: JsonObject | undefined): Json {
    if (h === undefined) return null;
    const out: JsonObject = {};
    if (h.cluster_id !== undefined)
      out.cluster_id = str(h.cluster_id) === this.self.clusterId ? 'cluster' : str(h.cluster_id);
    if (h.member_id !== undefined) out.member_id = this.members.label(str(h.member_id));
    if (h.revision !== undefined) out.revision = this.rev(h.revision);
    if (h.raft_term !== undefined) out.raft_term = 'term';
    return out;
  }

  kv(kv: JsonObject | undefined): Json {
    if (kv === undefined) return null;
    const out: JsonObject = { ...kv };
    if (kv.create_revision !== undefined) out.create_revision = this.rev(kv.create_revision);
    if (kv.mod_revision !== undefined) out.mod_revision = this.rev(kv.mod_revision);
    if (kv.lease !== undefined) out.lease = this.leases.label(str(kv.lease));
    return out;
  }

  member(m: JsonObject): Json {
    const url = (u: Json) =>
      u === this.self.peerUrl ? '<self-peer>' : u === this.self.clientUrl ? '<self-client>' : u;
    const out: JsonObject = { ...m };
    if (m.ID !== undefined) out.ID = this.members.label(str(m.ID));
    if (Array.isArray(m.peerURLs)) out.peerURLs = m.peerURLs.map(url);
    if (Array.isArray(m.clientURLs)) out.clientURLs = m.clientURLs.map(url);
    return out;
  }

  /** A response of `rpc` (`KV.Range`...) as fuzz JSON, normalised. */
  response(rpc: string, r: JsonObject): JsonObject {
    const out: JsonObject = { ...r };
    if ('header' in r) out.header = this.header(r.header as JsonObject);
    // Members are listed by their ids and alarms and leases in map order: compare as sets.
    const list = (k: string, f: (x: JsonObject) => Json, asSet = false) => {
      if (!Array.isArray(r[k])) return;
      const items = (r[k] as JsonObject[]).map(f);
      out[k] = asSet ? items.sort(byJson) : items;
    };
    switch (rpc) {
      case 'KV.Range':
        list('kvs', (kv) => this.kv(kv));
        break;
      case 'KV.Put':
        if (r.prev_kv !== undefined) out.prev_kv = this.kv(r.prev_kv as JsonObject);
        break;
      case 'KV.DeleteRange':
        list('prev_kvs', (kv) => this.kv(kv));
        break;
      case 'KV.Txn':
        list('responses', (op) => this.responseOp(op));
        break;
      case 'Lease.LeaseGrant':
      case 'Lease.LeaseKeepAlive':
        if (r.ID !== undefined) out.ID = this.leases.label(str(r.ID));
        break;
      case 'Lease.LeaseTimeToLive': {
        if (r.ID !== undefined) out.ID = this.leases.label(str(r.ID));
        // The remaining TTL counts down: compare whether it is live, not the seconds.
        const ttl = r.TTL as number | undefined;
        const granted = (r.grantedTTL as number | undefined) ?? 0;
        if (ttl !== undefined && ttl > 0 && ttl <= granted) out.TTL = 'live';
        if (Array.isArray(r.keys)) out.keys = [...r.keys].sort(byJson);
        break;
      }
      case 'Lease.LeaseLeases':
        list('leases', (l) => ({ ...l, ID: this.leases.label(str(l.ID ?? '0')) }), true);
        break;
      case 'Cluster.MemberAdd':
        if (r.member !== undefined) out.member = this.member(r.member as JsonObject);
        list('members', (m) => this.member(m), true);
        break;
      case 'Cluster.MemberRemove':
      case 'Cluster.MemberUpdate':
      case 'Cluster.MemberList':
      case 'Cluster.MemberPromote':
        list('members', (m) => this.member(m), true);
        break;
      case 'Maintenance.Alarm':
        list(
          'alarms',
          (a) => ({ ...a, memberID: this.members.label(str(a.memberID ?? '0')) }),
          true,
        );
        break;
      case 'Maintenance.Status':
        for (const k of ['version', 'dbSize', 'dbSizeInUse', 'raftIndex', 'raftAppliedIndex']) {
          if (k in r) out[k] = `<${k}>`;
        }
        if (r.raftTerm !== undefined) out.raftTerm = 'term';
        if (r.leader !== undefined) out.leader = this.members.label(str(r.leader));
        if (Array.isArray(r.errors)) {
          out.errors = (r.errors as string[])
            .map((e) =>
              this.message(e).replace(/memberID:(\d+)/g, (_m, id: string) => {
                return `memberID:${this.members.label(id)}`;
              }),
            )
            .sort();
        }
        break;
      case 'Maintenance.Hash':
        if (r.hash !== undefined) out.hash = '<hash>';
        break;
      case 'Maintenance.HashKV':
        // The hash covers each key's lease id, which each server picks: it cannot be compared.
        if (r.hash !== undefined) out.hash = '<hash>';
        if (r.compact_revision !== undefined) out.compact_revision = this.rev(r.compact_revision);
        break;
      case 'Auth.Authenticate':
        if (r.token !== undefined) out.token = '<token>';
        break;
      default:
        break;
    }
    return out;
  }

  responseOp(op: JsonObject): Json {
    const [k, v] = Object.entries(op)[0] ?? [];
    if (k === undefined) return op;
    const rpc = {
      response_range: 'KV.Range',
      response_put: 'KV.Put',
      response_delete_range: 'KV.DeleteRange',
      response_txn: 'KV.Txn',
    }[k];
    return { [k]: rpc === undefined ? (v as Json) : this.response(rpc, v as JsonObject) };
  }

  /** A watch event with its key-values normalised. */
  event(e: JsonObject): Json {
    const out: JsonObject = { ...e };
    if (e.kv !== undefined) out.kv = this.kv(e.kv as JsonObject);
    if (e.prev_kv !== undefined) out.prev_kv = this.kv(e.prev_kv as JsonObject);
    return out;
  }
}

export function byJson(a: Json, b: Json): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
