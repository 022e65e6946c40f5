/**
 * The lease bucket's value: an encoded leasepb.Lease {ID = 1, TTL = 2, RemainingTTL = 3},
 * all int64 varints, zero fields left out — byte-identical to the generated encoder (and
 * to etcd's), without its writer allocations on the grant path.
 */
export function encodeLeaseRecord(id: bigint, ttl: number, remainingTTL: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigInt64BE(id);
  const out = Buffer.allocUnsafe(MAX_LEASE_RECORD_BYTES);
  return out.subarray(0, encodeLeaseRecordInto(out, key, ttl, remainingTTL));
}

/** The longest record: three 10-byte varints and their tags. */
export const MAX_LEASE_RECORD_BYTES = 33;

/**
 * Encodes the record into `out` (at least MAX_LEASE_RECORD_BYTES long) for the lease whose
 * id is `idBytes` (8 bytes, big-endian, as the bucket key); returns the length written.
 */
export function encodeLeaseRecordInto(
  out: Buffer,
  idBytes: Buffer,
  ttl: number,
  remainingTTL: number,
): number {
  let pos = 0;
  const hi = idBytes.readUInt32BE(0);
  const lo = idBytes.readUInt32BE(4);
  if (hi !== 0 || lo !== 0) {
    out[pos++] = 0x08;
    pos = putVarint64(out, pos, hi, lo);
  }
  if (ttl !== 0) {
    out[pos++] = 0x10;
    pos = putInt64(out, pos, ttl);
  }
  if (remainingTTL !== 0) {
    out[pos++] = 0x18;
    pos = putInt64(out, pos, remainingTTL);
  }
  return pos;
}

function putInt64(out: Buffer, pos: number, n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`lease record: ${n} is not a safe integer`);
  if (n < 0) {
    const u = BigInt.asUintN(64, BigInt(n));
    return putVarint64(out, pos, Number(u >> 32n), Number(u & 0xffffffffn));
  }
  while (n > 0x7f) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** A varint of the unsigned 64-bit value hi * 2^32 + lo. */
function putVarint64(out: Buffer, pos: number, hi: number, lo: number): number {
  while (hi > 0 || lo > 0x7f) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
  return pos;
}
