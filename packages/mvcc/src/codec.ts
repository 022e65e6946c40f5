import type { mvccpb } from '@etcd-ts/api';

// A KeyValue codec for the hot path, byte-identical to @etcd-ts/api's generated
// mvccpb.KeyValue codec (which goes through BigInt for every int64 field). Fields:
// 1 key (bytes), 2 create_revision, 3 mod_revision, 4 version (int64), 5 value (bytes),
// 6 lease (int64); proto3 defaults are omitted.

export type KeyValue = mvccpb.KeyValue;

const TWO_32 = 2 ** 32;
const EMPTY: Uint8Array = Buffer.alloc(0);

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v >= 1) {
    n++;
    v = Math.floor(v / 0x80);
  }
  return n;
}

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = v < TWO_32 ? v >>> 7 : Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** The 64-bit two's complement varint of a lease id (negative ids take 10 bytes). */
function leaseVarint(lease: bigint): Uint8Array {
  let u = BigInt.asUintN(64, lease);
  const bytes: number[] = [];
  while (u >= 0x80n) {
    bytes.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  bytes.push(Number(u));
  return Uint8Array.from(bytes);
}

function checkInt(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`mvcc: ${field} ${v} out of range`);
}

/** Size in bytes of the encoded KeyValue. */
export function keyValueSize(kv: KeyValue): number {
  let n = 0;
  if (kv.key.length !== 0) n += 1 + varintSize(kv.key.length) + kv.key.length;
  if (kv.createRevision !== 0) n += 1 + varintSize(kv.createRevision);
  if (kv.modRevision !== 0) n += 1 + varintSize(kv.modRevision);
  if (kv.version !== 0) n += 1 + varintSize(kv.version);
  if (kv.value.length !== 0) n += 1 + varintSize(kv.value.length) + kv.value.length;
  if (kv.lease !== 0n) n += 1 + leaseVarintSize(kv.lease);
  return n;
}

function leaseVarintSize(lease: bigint): number {
  if (lease > 0n && lease <= BigInt(Number.MAX_SAFE_INTEGER)) return varintSize(Number(lease));
  return leaseVarint(lease).length;
}

/** Encodes `kv` exactly as mvccpb.KeyValue.encode does. */
export function encodeKeyValue(kv: KeyValue): Buffer {
  checkInt(kv.createRevision, 'create_revision');
  checkInt(kv.modRevision, 'mod_revision');
  checkInt(kv.version, 'version');
  const out = Buffer.allocUnsafe(keyValueSize(kv));
  let p = 0;
  if (kv.key.length !== 0) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, kv.key.length);
    out.set(kv.key, p);
    p += kv.key.length;
  }
  if (kv.createRevision !== 0) {
    out[p++] = 0x10;
    p = writeVarint(out, p, kv.createRevision);
  }
  if (kv.modRevision !== 0) {
    out[p++] = 0x18;
    p = writeVarint(out, p, kv.modRevision);
  }
  if (kv.version !== 0) {
    out[p++] = 0x20;
    p = writeVarint(out, p, kv.version);
  }
  if (kv.value.length !== 0) {
    out[p++] = 0x2a;
    p = writeVarint(out, p, kv.value.length);
    out.set(kv.value, p);
    p += kv.value.length;
  }
  if (kv.lease !== 0n) {
    out[p++] = 0x30;
    if (kv.lease > 0n && kv.lease <= BigInt(Number.MAX_SAFE_INTEGER)) {
      p = writeVarint(out, p, Number(kv.lease));
    } else {
      const v = leaseVarint(kv.lease);
      out.set(v, p);
      p += v.length;
    }
  }
  if (p !== out.length) throw new Error('mvcc: KeyValue size mismatch');
  return out;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  /** A varint as a number; throws past 2^53 (use `bigVarint` for lease ids). */
  varint(): number {
    const b = this.buf;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= b.length) throw new Error('mvcc: truncated KeyValue');
      const x = b[this.pos++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        if (!Number.isSafeInteger(v)) throw new RangeError('mvcc: int64 beyond 2^53 in KeyValue');
        return v;
      }
      mul *= 0x80;
    }
    throw new RangeError('mvcc: int64 beyond 2^53 in KeyValue');
  }

  bigVarint(): bigint {
    const b = this.buf;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) throw new Error('mvcc: truncated KeyValue');
      const x = b[this.pos++]!;
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) return BigInt.asIntN(64, v);
      shift += 7n;
    }
    throw new Error('mvcc: malformed varint in KeyValue');
  }

  bytes(copy: boolean): Uint8Array {
    const n = this.varint();
    const end = this.pos + n;
    if (end > this.buf.length) throw new Error('mvcc: truncated KeyValue');
    const start = this.pos;
    this.pos = end;
    // Always Buffers, whatever the input: callers compare and print them.
    const b = this.buf;
    const view = Buffer.isBuffer(b)
      ? b.subarray(start, end)
      : Buffer.from(b.buffer, b.byteOffset + start, n);
    return copy ? Buffer.from(view) : view;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.bigVarint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2: {
        const n = this.varint();
        this.pos += n;
        return;
      }
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`mvcc: unsupported wire type ${wireType} in KeyValue`);
    }
  }
}

/**
 * Decodes a KeyValue. With `copy` (the default) key and value get their own memory, so
 * `buf` may be a transient view into the backend; without it they alias `buf`.
 */
export function decodeKeyValue(buf: Uint8Array, copy = true): KeyValue {
  if (copy) {
    // One copy of the whole record, then views into it: cheaper than copying key and
    // value apart (half the allocations), and the copy is ours, so views are safe.
    const own = Buffer.allocUnsafe(buf.length);
    own.set(buf);
    return decodeKeyValue(own, false);
  }
  const r = new Reader(buf);
  const kv: KeyValue = {
    key: EMPTY,
    createRevision: 0,
    modRevision: 0,
    version: 0,
    value: EMPTY,
    lease: 0n,
  };
  while (r.pos < buf.length) {
    const tag = buf[r.pos]! < 0x80 ? buf[r.pos++]! : r.varint();
    switch (tag) {
      case 0x0a:
        kv.key = r.bytes(copy);
        break;
      case 0x10:
        kv.createRevision = r.varint();
        break;
      case 0x18:
        kv.modRevision = r.varint();
        break;
      case 0x20:
        kv.version = r.varint();
        break;
      case 0x2a:
        kv.value = r.bytes(copy);
        break;
      case 0x30: {
        const start = r.pos;
        // Positive ids below 2^53 (every id etcd's lessor hands out) stay off BigInt's path
        // until the end.
        if (buf[start] === 0) r.pos++;
        else if (buf[start]! < 0x80) kv.lease = BigInt(buf[r.pos++]!);
        else kv.lease = r.bigVarint();
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  if (r.pos !== buf.length) throw new Error('mvcc: truncated KeyValue');
  return kv;
}

/** Only the key of an encoded KeyValue (a view into `buf`), without decoding the rest. */
export function decodeKeyOnly(buf: Uint8Array): Uint8Array {
  if (buf[0] !== 0x0a) return EMPTY;
  const r = new Reader(buf);
  r.pos = 1;
  return r.bytes(false);
}

/** The scalar fields of an encoded KeyValue and where its key lies in the buffer. */
export interface KeyValueFields {
  keyStart: number;
  keyEnd: number;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: bigint;
}

/**
 * Decodes everything but the value, and locates the key without copying it: what the
 * index rebuild needs from each stored revision.
 */
export function decodeKeyValueFields(buf: Uint8Array): KeyValueFields {
  const r = new Reader(buf);
  const f: KeyValueFields = {
    keyStart: 0,
    keyEnd: 0,
    createRevision: 0,
    modRevision: 0,
    version: 0,
    lease: 0n,
  };
  while (r.pos < buf.length) {
    const tag = buf[r.pos]! < 0x80 ? buf[r.pos++]! : r.varint();
    switch (tag) {
      case 0x0a: {
        const n = r.varint();
        f.keyStart = r.pos;
        f.keyEnd = r.pos + n;
        r.pos += n;
        break;
      }
      case 0x10:
        f.createRevision = r.varint();
        break;
      case 0x18:
        f.modRevision = r.varint();
        break;
      case 0x20:
        f.version = r.varint();
        break;
      case 0x30:
        f.lease = buf[r.pos]! < 0x80 ? BigInt(buf[r.pos++]!) : r.bigVarint();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  if (r.pos !== buf.length || f.keyEnd > buf.length) throw new Error('mvcc: truncated KeyValue');
  return f;
}

/**
 * Encodes a KeyValue from its parts (no intermediate object), byte-identical to
 * encodeKeyValue; also returns where key and value landed, so callers can take views.
 */
export function encodeKeyValueParts(
  key: Uint8Array,
  value: Uint8Array,
  createRevision: number,
  modRevision: number,
  version: number,
  lease: bigint,
): Buffer {
  checkInt(createRevision, 'create_revision');
  checkInt(modRevision, 'mod_revision');
  checkInt(version, 'version');
  let n = 0;
  if (key.length !== 0) n += 1 + varintSize(key.length) + key.length;
  if (createRevision !== 0) n += 1 + varintSize(createRevision);
  if (modRevision !== 0) n += 1 + varintSize(modRevision);
  if (version !== 0) n += 1 + varintSize(version);
  if (value.length !== 0) n += 1 + varintSize(value.length) + value.length;
  const smallLease = lease > 0n && lease <= MAX_SAFE_BIG;
  let leaseBytes: Uint8Array | undefined;
  if (lease !== 0n) {
    if (smallLease) n += 1 + varintSize(Number(lease));
    else {
      leaseBytes = leaseVarint(lease);
      n += 1 + leaseBytes.length;
    }
  }
  const out = allocChunked(n);
  let p = 0;
  if (key.length !== 0) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, key.length);
    out.set(key, p);
    p += key.length;
  }
  if (createRevision !== 0) {
    out[p++] = 0x10;
    p = writeVarint(out, p, createRevision);
  }
  if (modRevision !== 0) {
    out[p++] = 0x18;
    p = writeVarint(out, p, modRevision);
  }
  if (version !== 0) {
    out[p++] = 0x20;
    p = writeVarint(out, p, version);
  }
  if (value.length !== 0) {
    out[p++] = 0x2a;
    p = writeVarint(out, p, value.length);
    out.set(value, p);
    p += value.length;
  }
  if (lease !== 0n) {
    out[p++] = 0x30;
    if (leaseBytes === undefined) p = writeVarint(out, p, Number(lease));
    else {
      out.set(leaseBytes, p);
      p += leaseBytes.length;
    }
  }
  return out;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

// Encoded values are carved out of 256 KiB chunks instead of Node's 8 KiB Buffer pool:
// at ~300 B a value the pool needs a new ArrayBuffer every ~28 puts, and creating (and
// later collecting) those dominated the put path's allocation cost. A chunk lives until
// every value cut from it is garbage (values live until their batch commits).
const CHUNK_BYTES = 256 * 1024;
const MAX_CHUNKED = CHUNK_BYTES / 16;
let chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
let chunkOffset = 0;

function allocChunked(n: number): Buffer {
  if (n > MAX_CHUNKED) return Buffer.allocUnsafeSlow(n);
  if (chunkOffset + n > CHUNK_BYTES) {
    chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    chunkOffset = 0;
  }
  const out = chunk.subarray(chunkOffset, chunkOffset + n);
  // Keep 8-byte alignment, as Node's pool does.
  chunkOffset = (chunkOffset + n + 7) & ~7;
  return out;
}
