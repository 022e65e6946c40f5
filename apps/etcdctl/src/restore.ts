// `snapshot restore`: a new member data dir from an etcd snapshot file, as etcd's
// snapshot.Restore makes it: member/snap/db (the snapshot's bbolt database with the
// consistent index set to the number of members), a v2-store raft snapshot naming the
// members (member/snap/<term>-<index>.snap) and a WAL (member/wal) holding one
// ConfChangeAddNode entry per member, the hard state and the snapshot marker. etcd
// starts from it as a new cluster holding the snapshot's keys.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BoltBucketInput, BoltReader } from '@etcd-ts/bbolt';
import { crc32c } from '@node-rs/crc32';
import { writeBoltFile } from './boltfile.js';
import { CliError, ExitCode } from './errors.js';

// --- a minimal protobuf writer for the few raft/wal/snap messages written here ---

class Proto {
  private readonly parts: Buffer[] = [];
  private varint(v: bigint): void {
    const bytes: number[] = [];
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    bytes.push(Number(x));
    this.parts.push(Buffer.from(bytes));
  }
  uint(field: number, v: bigint | number): this {
    this.varint(BigInt(field << 3));
    this.varint(BigInt(v));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.varint(BigInt((field << 3) | 2));
    this.varint(BigInt(b.length));
    this.parts.push(Buffer.from(b));
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const WAL_METADATA = 1;
const WAL_ENTRY = 2;
const WAL_STATE = 3;
const WAL_CRC = 4;
const WAL_SNAPSHOT = 5;
/** etcd's WAL segment size: the first segment is preallocated to it. */
const WAL_SEGMENT_BYTES = 64 * 1000 * 1000;
const ENTRY_CONF_CHANGE = 1;
const CONF_CHANGE_ADD_NODE = 0;

/** etcd's WAL encoder: length-prefixed, 8-byte aligned records with a rolling CRC. */
class WalWriter {
  private crc = 0;
  private readonly frames: Buffer[] = [];

  record(type: number, data?: Uint8Array): void {
    if (data !== undefined) this.crc = crc32c(Buffer.from(data), this.crc);
    const rec = new Proto().uint(1, type).uint(2, this.crc);
    if (data !== undefined) rec.bytes(3, data);
    const body = rec.finish();
    const pad = (8 - (body.length % 8)) % 8;
    const len = Buffer.alloc(8);
    let field = BigInt(body.length);
    if (pad !== 0) field |= BigInt(0x80 | pad) << 56n;
    len.writeBigUInt64LE(field);
    this.frames.push(len, body, Buffer.alloc(pad));
  }

  bytes(): Buffer {
    return Buffer.concat(this.frames);
  }
}

/** Go's %v of a byte slice: `[1 2 3]`. */
function goBytes(b: Uint8Array): string {
  return `[${[...b].join(' ')}]`;
}

/**
 * The meta bucket's pairs with consistent_index (and term, which etcd 3.5 also keeps) set:
 * the new raft log's entries, all covered by the snapshot, are then not applied again.
 */
function withApplyPosition(
  pairs: [Uint8Array, Uint8Array][],
  index: number,
  term: number,
): [Uint8Array, Uint8Array][] {
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    return b;
  };
  const set = new Map<string, Uint8Array>([
    ['consistent_index', u64(index)],
    ['term', u64(term)],
  ]);
  const out = pairs
    .filter(([k]) => !set.has(Buffer.from(k).toString('latin1')))
    .map(([k, v]) => [Uint8Array.from(k), Uint8Array.from(v)] as [Uint8Array, Uint8Array]);
  for (const [k, v] of set) out.push([Buffer.from(k, 'latin1'), v]);
  return out.sort((a, b) => Buffer.compare(a[0], b[0]));
}

export interface RestoreOptions {
  snapshotPath: string;
  name: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string;
  dataDir?: string;
  walDir?: string;
  skipHashCheck: boolean;
  log: (msg: string, fields: Record<string, unknown>) => void;
}

interface RestoreMember {
  id: bigint;
  name: string;
  peerURLs: string[];
}

/** membership.NewMember: the id is the sha1 of the sorted peer URLs and the cluster token. */
export function memberId(peerURLs: string[], token: string): bigint {
  const h = createHash('sha1');
  for (const u of [...peerURLs].sort()) h.update(u);
  h.update(token);
  return h.digest().readBigUInt64BE(0);
}

/** RaftCluster.genID: the sha1 of the sorted member ids. */
export function clusterId(ids: bigint[]): bigint {
  const b = Buffer.alloc(8 * ids.length);
  [...ids]
    .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    .forEach((id, i) => {
      b.writeBigUInt64BE(id, 8 * i);
    });
  return createHash('sha1').update(b).digest().readBigUInt64BE(0);
}

function parseCluster(initialCluster: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const part of initialCluster.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new CliError(ExitCode.Error, `invalid value "${initialCluster}" for initial cluster`);
    const name = part.slice(0, eq);
    m.set(name, [...(m.get(name) ?? []), part.slice(eq + 1)]);
  }
  return m;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The v2 store (JSON) holding each member's raftAttributes, as etcd saves it. */
function v2Store(members: RestoreMember[]): Buffer {
  const node = (
    path: string,
    index: number,
    value: string,
    children: Record<string, unknown> | null,
  ) => ({
    Path: path,
    CreatedIndex: index,
    ModifiedIndex: index,
    ExpireTime: ZERO_TIME,
    Value: value,
    Children: children,
  });
  const memberNodes: Record<string, unknown> = {};
  members.forEach((m, i) => {
    const hex = m.id.toString(16);
    const p = `/0/members/${hex}`;
    memberNodes[hex] = node(p, i + 1, '', {
      raftAttributes: node(
        `${p}/raftAttributes`,
        i + 1,
        JSON.stringify({ peerURLs: m.peerURLs }),
        null,
      ),
    });
  });
  const root = node('/', 0, '', {
    '0': node('/0', 0, '', { members: node('/0/members', 1, '', memberNodes) }),
    '1': node('/1', 0, '', {}),
  });
  return Buffer.from(
    JSON.stringify({ Root: root, CurrentIndex: members.length, CurrentVersion: 2 }),
  );
}

export async function restoreSnapshot(o: RestoreOptions): Promise<void> {
  const cluster = parseCluster(o.initialCluster);
  const peerURLs = o.initialAdvertisePeerUrls.split(',');
  const mine = cluster.get(o.name);
  if (mine === undefined || [...mine].sort().join(',') !== [...peerURLs].sort().join(',')) {
    throw new CliError(
      ExitCode.Error,
      `--initial-cluster has ${o.name}=${(mine ?? []).join(',')} but missing from --initial-advertise-peer-urls=${o.initialAdvertisePeerUrls}`,
    );
  }
  const members: RestoreMember[] = [...cluster].map(([name, urls]) => ({
    id: memberId(urls, o.initialClusterToken),
    name,
    peerURLs: [...urls].sort(),
  }));
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cid = clusterId(members.map((m) => m.id));
  const self = members.find((m) => m.name === o.name)!;

  const dataDir = o.dataDir ?? `${o.name}.etcd`;
  if (existsSync(dataDir)) throw new CliError(ExitCode.Error, `data-dir "${dataDir}" exists`);
  const walDir = o.walDir ?? join(dataDir, 'member', 'wal');
  if (o.walDir !== undefined && existsSync(walDir))
    throw new CliError(ExitCode.Error, `wal-dir "${walDir}" exists`);
  const snapDir = join(dataDir, 'member', 'snap');
  o.log('restoring snapshot', {
    path: o.snapshotPath,
    'wal-dir': walDir,
    'data-dir': dataDir,
    'snap-dir': snapDir,
  });

  // The database: verify and drop the sha256 trailer, then set the consistent index so
  // the new raft log's entries (all covered by the snapshot) are not applied again.
  const size = (await stat(o.snapshotPath)).size;
  // etcd's hasChecksum: a bbolt file is whole pages, so 32 bytes over a 512 multiple are the sha256.
  const hasHash = size % 512 === 32;
  if (hasHash && !o.skipHashCheck) {
    const fh = await open(o.snapshotPath, 'r');
    const want = Buffer.alloc(32);
    await fh.read(want, 0, 32, size - 32);
    await fh.close();
    const sha = createHash('sha256');
    for await (const chunk of createReadStream(o.snapshotPath, { end: size - 33 }))
      sha.update(chunk);
    const got = sha.digest();
    if (!got.equals(want)) {
      throw new CliError(ExitCode.Error, `expected sha256 ${goBytes(want)}, got ${goBytes(got)}`);
    }
  } else if (!hasHash && !o.skipHashCheck) {
    throw new CliError(ExitCode.Error, 'snapshot missing hash but --skip-hash-check=false');
  }
  // The snapshot read page by page (the trailer lies past the last page, unread), written
  // out again with the meta bucket's consistent index set to the number of members.
  const source = BoltReader.open(o.snapshotPath);
  const commit = members.length;
  const term = 1;
  try {
    const buckets: BoltBucketInput[] = [];
    let sawMeta = false;
    for (const b of source.buckets()) {
      const name = Uint8Array.from(b.name);
      if (Buffer.from(name).toString('latin1') !== 'meta') {
        buckets.push({ name, sequence: b.sequence, entries: () => b.pairs() });
        continue;
      }
      sawMeta = true;
      buckets.push({
        name,
        sequence: b.sequence,
        entries: () => withApplyPosition([...b.pairs()], commit, term),
      });
    }
    if (!sawMeta)
      buckets.push({
        name: Buffer.from('meta'),
        entries: () => withApplyPosition([], commit, term),
      });
    await mkdir(snapDir, { recursive: true, mode: 0o700 });
    writeBoltFile(join(snapDir, 'db'), buckets, source.pageSize);
  } finally {
    source.close();
  }

  // The WAL: metadata, the members as conf changes, the hard state, the snapshot marker.
  const wal = new WalWriter();
  wal.record(WAL_CRC);
  wal.record(WAL_METADATA, new Proto().uint(1, self.id).uint(2, cid).finish());
  wal.record(WAL_SNAPSHOT, new Proto().uint(1, 0).uint(2, 0).finish());
  members.forEach((m, i) => {
    const context = Buffer.from(
      `{"id":${m.id},"peerURLs":${JSON.stringify(m.peerURLs)},"name":${JSON.stringify(m.name)}}`,
    );
    const cc = new Proto()
      .uint(1, 0)
      .uint(2, CONF_CHANGE_ADD_NODE)
      .uint(3, m.id)
      .bytes(4, context)
      .finish();
    wal.record(
      WAL_ENTRY,
      new Proto()
        .uint(1, ENTRY_CONF_CHANGE)
        .uint(2, term)
        .uint(3, i + 1)
        .bytes(4, cc)
        .finish(),
    );
  });
  wal.record(WAL_STATE, new Proto().uint(1, term).uint(2, members[0]!.id).uint(3, commit).finish());
  wal.record(WAL_SNAPSHOT, new Proto().uint(1, commit).uint(2, term).finish());
  const walBytes = wal.bytes();
  const segment = Buffer.alloc(Math.max(WAL_SEGMENT_BYTES, walBytes.length));
  walBytes.copy(segment);
  await mkdir(walDir, { recursive: true, mode: 0o700 });
  await writeFile(join(walDir, '0000000000000000-0000000000000000.wal'), segment, { mode: 0o600 });

  // The raft snapshot: the v2 store as data, the members as voters.
  const confState = new Proto();
  for (const m of members) confState.uint(1, m.id);
  confState.uint(5, 0);
  const metadata = new Proto().bytes(1, confState.finish()).uint(2, commit).uint(3, term).finish();
  const raftSnap = new Proto().bytes(1, v2Store(members)).bytes(2, metadata).finish();
  const snapFile = new Proto().uint(1, crc32c(raftSnap, 0)).bytes(2, raftSnap).finish();
  const hex16 = (n: number) => n.toString(16).padStart(16, '0');
  await writeFile(join(snapDir, `${hex16(term)}-${hex16(commit)}.snap`), snapFile, { mode: 0o644 });
  o.log('restored snapshot', {
    path: o.snapshotPath,
    'wal-dir': walDir,
    'data-dir': dataDir,
    'snap-dir': snapDir,
  });
}
