import type { Backend } from '@etcd-ts/backend';
import { Errors } from './errors.js';
import { computeClusterId, computeMemberId, hexToId, idToHex } from './ids.js';

/** One member of the cluster (etcd's membership.Member). */
export interface Member {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

const MEMBERS_BUCKET = 'members';
const MEMBERS_REMOVED_BUCKET = 'members_removed';
const CLUSTER_BUCKET = 'cluster';
const CLUSTER_VERSION_KEY = Buffer.from('clusterVersion');

/**
 * A member as etcd marshals it to JSON (the raft ConfChange context and the members
 * bucket value): the id is an unquoted uint64, which JSON.stringify cannot write from a
 * bigint, so the object is written by hand.
 */
export function memberToJson(m: Member): string {
  const parts = [
    `"id":${BigInt.asUintN(64, m.id).toString()}`,
    `"peerURLs":${JSON.stringify(m.peerUrls)}`,
  ];
  if (m.isLearner) parts.push('"isLearner":true');
  if (m.name !== '') parts.push(`"name":${JSON.stringify(m.name)}`);
  if (m.clientUrls.length > 0) parts.push(`"clientURLs":${JSON.stringify(m.clientUrls)}`);
  return `{${parts.join(',')}}`;
}

/** A member list as etcd's peers serve it (GET /members): a JSON array of members. */
export function memberListToJson(members: readonly Member[]): string {
  return `[${members.map(memberToJson).join(',')}]`;
}

/** Reads a member list as etcd's peers serve it (ids beyond 2^53 taken from the text). */
export function memberListFromJson(text: string): Member[] {
  const body = text.trim();
  if (!body.startsWith('[') || !body.endsWith(']'))
    throw new Error(`membership: not a member list: ${body.slice(0, 200)}`);
  // Each member object: split at the top level (member JSON holds no nested objects).
  return (body.slice(1, -1).match(/\{[^{}]*\}/g) ?? []).map(memberFromJson);
}

/** Reads etcd's member JSON (ids may exceed 2^53: taken from the text, not from a number). */
export function memberFromJson(text: string): Member {
  const idMatch = /"id"\s*:\s*(\d+)/.exec(text);
  if (idMatch === null) throw new Error(`membership: member without id: ${text}`);
  const o = JSON.parse(text) as {
    peerURLs?: string[];
    name?: string;
    clientURLs?: string[];
    isLearner?: boolean;
  };
  return {
    id: BigInt(idMatch[1]!),
    name: o.name ?? '',
    peerUrls: o.peerURLs ?? [],
    clientUrls: o.clientURLs ?? [],
    isLearner: o.isLearner ?? false,
  };
}

/** Parses `--initial-cluster` (name=url,name=url; a name may repeat for several URLs). */
export function parseInitialCluster(spec: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1)
      throw new Error(`--initial-cluster: ${JSON.stringify(p)} is not name=peer-url`);
    const name = p.slice(0, eq);
    const url = p.slice(eq + 1);
    checkUrl(url, '--initial-cluster');
    const urls = out.get(name) ?? [];
    urls.push(url);
    out.set(name, urls);
  }
  if (out.size === 0) throw new Error('--initial-cluster is empty');
  return out;
}

export function checkUrl(url: string, flag: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag}: ${JSON.stringify(url)} is not a valid URL`);
  }
  if (
    u.protocol !== 'http:' &&
    u.protocol !== 'https:' &&
    u.protocol !== 'unix:' &&
    u.protocol !== 'unixs:'
  )
    throw new Error(`${flag}: URL scheme must be http, https, unix or unixs: ${url}`);
  if (u.protocol.startsWith('http') && u.port === '')
    throw new Error(`${flag}: URL address does not have the form "host:port": ${url}`);
}

/**
 * The cluster's membership (etcd's RaftCluster): members by id, ids removed for good,
 * the cluster version, persisted in the backend's members / members_removed / cluster
 * buckets as each change is applied.
 */
export class RaftCluster {
  readonly members = new Map<bigint, Member>();
  readonly removed = new Set<bigint>();
  version: string | undefined;
  clusterId = 0n;
  localId = 0n;
  private backend: Backend | undefined;

  /** The members a new cluster starts with, ids derived from their peer URLs and the token. */
  static fromInitialCluster(initial: Map<string, string[]>, token: string): RaftCluster {
    const c = new RaftCluster();
    for (const [name, urls] of initial) {
      const id = computeMemberId(urls, token);
      if (c.members.has(id))
        throw new Error(`member ${idToHex(id)} is listed twice in --initial-cluster`);
      c.members.set(id, { id, name, peerUrls: [...urls].sort(), clientUrls: [], isLearner: false });
    }
    c.clusterId = computeClusterId([...c.members.keys()]);
    return c;
  }

  setBackend(be: Backend): void {
    this.backend = be;
    be.lock();
    be.createBucket(MEMBERS_BUCKET);
    be.createBucket(MEMBERS_REMOVED_BUCKET);
    be.createBucket(CLUSTER_BUCKET);
    be.unlock();
  }

  /** Loads the membership a previous run stored (the backend is authoritative on restart). */
  recover(): void {
    const be = this.backend!;
    this.members.clear();
    this.removed.clear();
    be.forEach(MEMBERS_BUCKET, (_k, v) => {
      const m = memberFromJson(Buffer.from(v).toString('utf8'));
      this.members.set(m.id, m);
      return true;
    });
    be.forEach(MEMBERS_REMOVED_BUCKET, (k) => {
      this.removed.add(hexToId(k.toString('utf8')));
      return true;
    });
    const v = be.get(CLUSTER_BUCKET, CLUSTER_VERSION_KEY);
    this.version = v === undefined ? undefined : v.toString('utf8');
  }

  sortedMembers(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: bigint): Member | undefined {
    return this.members.get(id);
  }

  /** Checks a conf change before it is proposed (etcd's ValidateConfigurationChange, in part). */
  validateAdd(m: Member): void {
    if (this.removed.has(m.id)) throw Errors.memberNotFound();
    if (this.members.has(m.id)) throw Errors.memberExist();
    const urls = new Set(m.peerUrls);
    for (const o of this.members.values())
      for (const u of o.peerUrls) if (urls.has(u)) throw Errors.peerURLExist();
  }

  /** Applies a member addition (persisting it when `persist`, i.e. not yet applied). */
  addMember(m: Member, persist: boolean): void {
    this.members.set(m.id, m);
    if (persist) this.saveMember(m);
  }

  removeMember(id: bigint, persist: boolean): void {
    this.members.delete(id);
    this.removed.add(id);
    if (persist && this.backend !== undefined) {
      const be = this.backend;
      be.lock();
      be.delete(MEMBERS_BUCKET, Buffer.from(idToHex(id)));
      be.put(MEMBERS_REMOVED_BUCKET, Buffer.from(idToHex(id)), Buffer.from('removed'));
      be.unlock();
    }
  }

  updateRaftAttributes(id: bigint, peerUrls: string[], isLearner: boolean, persist: boolean): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    m.peerUrls = [...peerUrls];
    m.isLearner = isLearner;
    if (persist) this.saveMember(m);
  }

  updateAttributes(id: bigint, name: string, clientUrls: string[], persist: boolean): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    m.name = name;
    m.clientUrls = [...clientUrls];
    if (persist) this.saveMember(m);
  }

  setVersion(version: string, persist: boolean): void {
    this.version = version;
    if (persist && this.backend !== undefined) {
      this.backend.lock();
      this.backend.put(CLUSTER_BUCKET, CLUSTER_VERSION_KEY, Buffer.from(version));
      this.backend.unlock();
    }
  }

  private saveMember(m: Member): void {
    if (this.backend === undefined) return;
    this.backend.lock();
    this.backend.put(MEMBERS_BUCKET, Buffer.from(idToHex(m.id)), Buffer.from(memberToJson(m)));
    this.backend.unlock();
  }

  /**
   * Replaces the membership (memory and the members / members_removed buckets) with
   * `m`: a data dir made by `etcdctl snapshot restore` holds the old cluster's members in
   * its backend, while the restore's raft snapshot names the new cluster's, which win (as
   * etcd 3.4 recovers membership from that snapshot's v2 store).
   */
  resetTo(m: V2Membership): void {
    const be = this.backend!;
    const stale: Buffer[] = [];
    const staleRemoved: Buffer[] = [];
    be.forEach(MEMBERS_BUCKET, (k) => {
      stale.push(Buffer.from(k));
      return true;
    });
    be.forEach(MEMBERS_REMOVED_BUCKET, (k) => {
      staleRemoved.push(Buffer.from(k));
      return true;
    });
    be.lock();
    for (const k of stale) be.delete(MEMBERS_BUCKET, k);
    for (const k of staleRemoved) be.delete(MEMBERS_REMOVED_BUCKET, k);
    be.unlock();
    this.members.clear();
    this.removed.clear();
    for (const member of m.members) this.addMember({ ...member }, true);
    for (const id of m.removed) {
      this.removed.add(id);
      be.lock();
      be.put(MEMBERS_REMOVED_BUCKET, Buffer.from(idToHex(id)), Buffer.from('removed'));
      be.unlock();
    }
    if (m.version !== undefined) this.setVersion(m.version, true);
  }

  /** A JSON picture of the membership for raft snapshots (read by humans and dump tools). */
  snapshotData(): Uint8Array {
    const members = this.sortedMembers().map(memberToJson).join(',');
    return Buffer.from(
      `{"members":[${members}],"clusterVersion":${JSON.stringify(this.version ?? '')}}`,
    );
  }
}

/** The membership an etcd v2 store (a raft snapshot's data in etcd 3.4) records. */
export interface V2Membership {
  members: Member[];
  removed: bigint[];
  version: string | undefined;
}

interface V2Node {
  Value?: string;
  Children?: Record<string, V2Node> | null;
}

/**
 * Reads the membership from etcd's v2 store JSON — what etcd 3.4 keeps as a raft
 * snapshot's data, and what `etcdctl snapshot restore` writes into member/snap/*.snap:
 * /0/members/<hex id>/raftAttributes ({peerURLs, isLearner}) and .../attributes ({name,
 * clientURLs}), /0/removed_members/<hex id>, /0/version. Undefined when `data` is not a
 * v2 store (etcd-ts's own snapshots carry a different picture).
 */
export function membershipFromV2Store(data: Uint8Array): V2Membership | undefined {
  let store: { Root?: V2Node };
  try {
    store = JSON.parse(Buffer.from(data).toString('utf8')) as { Root?: V2Node };
  } catch {
    return undefined;
  }
  if (typeof store !== 'object' || store === null || typeof store.Root !== 'object')
    return undefined;
  const cluster = store.Root.Children?.['0'];
  const members: Member[] = [];
  for (const [hex, node] of Object.entries(cluster?.Children?.members?.Children ?? {})) {
    const raw = node.Children?.raftAttributes?.Value;
    if (raw === undefined) continue;
    const raft = JSON.parse(raw) as { peerURLs?: string[]; isLearner?: boolean };
    const attrsRaw = node.Children?.attributes?.Value;
    const attrs =
      attrsRaw === undefined
        ? {}
        : (JSON.parse(attrsRaw) as { name?: string; clientURLs?: string[] });
    members.push({
      id: hexToId(hex),
      name: attrs.name ?? '',
      peerUrls: raft.peerURLs ?? [],
      clientUrls: attrs.clientURLs ?? [],
      isLearner: raft.isLearner ?? false,
    });
  }
  const removed = Object.keys(cluster?.Children?.removed_members?.Children ?? {}).map(hexToId);
  const version = cluster?.Children?.version?.Value;
  return { members, removed, version: version === '' ? undefined : version };
}
