/**
 * A revision names one change: `main` is the store revision of the transaction, `sub` the
 * change's position inside it. In the key bucket a revision is 17 bytes — 8-byte big-endian
 * main, '_', 8-byte big-endian sub — and a tombstone adds a trailing 't', so byte order is
 * revision order.
 */
export interface Revision {
  main: number;
  sub: number;
}

export const REV_BYTES_LEN = 17;
export const MARKED_REV_BYTES_LEN = 18;
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE_MARK = 0x74; // 't'

/** Writes `main`_`sub` (and the tombstone mark) into `out` (17 or 18 bytes). */
export function writeRevBytes(main: number, sub: number, out: Buffer, tombstone = false): Buffer {
  writeUint64BE(out, 0, main);
  out[8] = SEPARATOR;
  writeUint64BE(out, 9, sub);
  if (tombstone) out[17] = TOMBSTONE_MARK;
  return out;
}

/** A fresh buffer holding the revision key. */
export function revToBytes(main: number, sub: number, tombstone = false): Buffer {
  return writeRevBytes(
    main,
    sub,
    Buffer.allocUnsafe(tombstone ? MARKED_REV_BYTES_LEN : REV_BYTES_LEN),
    tombstone,
  );
}

export function bytesToRev(b: Uint8Array): Revision {
  if (b.length < REV_BYTES_LEN || b[8] !== SEPARATOR) {
    throw new Error(`mvcc: malformed revision key of ${b.length} bytes`);
  }
  return { main: readUint64BE(b, 0), sub: readUint64BE(b, 9) };
}

export function isTombstone(b: Uint8Array): boolean {
  return b.length === MARKED_REV_BYTES_LEN && b[17] === TOMBSTONE_MARK;
}

/** a > b in revision order. */
export function revGreater(aMain: number, aSub: number, bMain: number, bSub: number): boolean {
  return aMain > bMain || (aMain === bMain && aSub > bSub);
}

const TWO_32 = 2 ** 32;

export function writeUint64BE(out: Uint8Array, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`mvcc: ${v} is not a safe revision`);
  const hi = Math.floor(v / TWO_32);
  const lo = v >>> 0;
  out[off] = hi >>> 24;
  out[off + 1] = (hi >>> 16) & 0xff;
  out[off + 2] = (hi >>> 8) & 0xff;
  out[off + 3] = hi & 0xff;
  out[off + 4] = lo >>> 24;
  out[off + 5] = (lo >>> 16) & 0xff;
  out[off + 6] = (lo >>> 8) & 0xff;
  out[off + 7] = lo & 0xff;
}

export function readUint64BE(b: Uint8Array, off: number): number {
  const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
  const v = hi * TWO_32 + lo;
  if (!Number.isSafeInteger(v)) throw new RangeError('mvcc: revision beyond 2^53');
  return v;
}

const SUB_BITS = 2 ** 20;
const MAIN_LIMIT = 2 ** 32;

/**
 * A cheap Set key for a revision: one number while main < 2^32 and sub < 2^20 (every
 * realistic store), otherwise a string.
 */
export function revSetKey(main: number, sub: number): number | string {
  return main < MAIN_LIMIT && sub < SUB_BITS ? main * SUB_BITS + sub : `${main}_${sub}`;
}
