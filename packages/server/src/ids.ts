import { createHash } from 'node:crypto';

/** Formats a 64-bit id the way etcd prints types.ID: lower-case hex, no padding. */
export function idToHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** Parses etcd's hex form of a 64-bit id. */
export function hexToId(hex: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw new Error(`invalid member id ${JSON.stringify(hex)}`);
  return BigInt(`0x${hex}`);
}

function first8BigEndian(digest: Buffer): bigint {
  return digest.readBigUInt64BE(0);
}

/**
 * A member's id as etcd derives it: SHA-1 over the member's peer URLs (sorted, joined
 * with nothing), the cluster token, and — only for a member added at runtime — the Unix
 * time in seconds; the id is the digest's first 8 bytes read big-endian. Members that
 * bootstrap a cluster together therefore agree on each other's ids without talking.
 */
export function computeMemberId(
  peerUrls: readonly string[],
  clusterToken: string,
  nowUnixSeconds?: number,
): bigint {
  const h = createHash('sha1');
  for (const u of [...peerUrls].sort()) h.update(u);
  h.update(clusterToken);
  if (nowUnixSeconds !== undefined) h.update(String(Math.floor(nowUnixSeconds)));
  return first8BigEndian(h.digest());
}

/**
 * The cluster's id as etcd derives it from its members: SHA-1 over the member ids in
 * ascending order, each 8 bytes big-endian; the first 8 bytes of the digest.
 */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => {
    b.writeBigUInt64BE(BigInt.asUintN(64, id), 8 * i);
  });
  return first8BigEndian(createHash('sha1').update(b).digest());
}

const TS_BITS = 40n;
const CNT_BITS = 8n;
const SUFFIX_BITS = TS_BITS + CNT_BITS;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
const TS_MASK = (1n << TS_BITS) - 1n;

/**
 * etcd's request id generator (pkg/idutil): the top 16 bits are the low 16 bits of the
 * member id, the low 48 bits a counter that starts at the low 40 bits of the start time
 * in milliseconds shifted left 8. Ids stay unique across restarts as long as a member
 * makes fewer than 256 requests a millisecond on average, and across members because
 * the prefixes differ.
 */
export class RequestIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, nowMs: number) {
    this.prefix = BigInt.asUintN(16, memberId) << SUFFIX_BITS;
    this.suffix = (BigInt(Math.floor(nowMs)) & TS_MASK) << CNT_BITS;
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & SUFFIX_MASK;
    return this.prefix | this.suffix;
  }
}
