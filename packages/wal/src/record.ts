import { type ConfState, decodeConfState, encodeConfState } from '@etcd-ts/raft';

/** The kinds of WAL record (walpb.Record.type), numbered as etcd numbers them. */
export const RecordType = {
  /** The opaque metadata the WAL was created with (etcd: the member and cluster ids). */
  metadata: 1,
  /** One raft entry (raftpb.Entry). */
  entry: 2,
  /** A raft HardState. */
  state: 3,
  /** The running CRC at the start of a segment, chaining it to the previous one. */
  crc: 4,
  /** A snapshot marker (walpb.Snapshot): the log after it starts at that index. */
  snapshot: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const recordTypeNames: Record<number, string> = {
  1: 'metadata',
  2: 'entry',
  3: 'state',
  4: 'crc',
  5: 'snapshot',
};

export function recordTypeName(t: number): string {
  return recordTypeNames[t] ?? `unknown(${t})`;
}

/** walpb.Record: {type = 1 (int64), crc = 2 (uint32), data = 3 (bytes)}. */
export interface WalRecord {
  type: number;
  crc: number;
  /** Absent for crc records, as etcd writes them. */
  data: Uint8Array | undefined;
}

/** walpb.Snapshot: where the log restarts after a raft snapshot. */
export interface WalSnapshot {
  index: number;
  term: number;
  /** Added in etcd 3.5; absent in markers written by older versions. */
  confState?: ConfState | undefined;
}

export class RecordDecodeError extends Error {}

// ---- varints (the record codec needs only non-negative safe integers) ----

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[p++] = n;
  return p;
}

/** Reads a varint at buf[p]; returns [value, next offset]. Throws past `end` or beyond 2^53. */
export function readVarint(buf: Uint8Array, p: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new RecordDecodeError('unexpected end of varint');
    const b = buf[p++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(value)) throw new RecordDecodeError('varint beyond 2^53');
      return [value, p];
    }
    scale *= 128;
  }
  throw new RecordDecodeError('varint too long');
}

// ---- walpb.Record ----

/** Size of the encoded record (without the frame). */
export function recordSize(type: number, crc: number, dataLength: number | undefined): number {
  let n = 1 + varintSize(type) + 1 + varintSize(crc);
  if (dataLength !== undefined) n += 1 + varintSize(dataLength) + dataLength;
  return n;
}

/**
 * Writes the record's header fields at buf[p] and returns the offset where `data` must be
 * copied (the caller copies it, so a large entry is copied once). type and crc are always
 * written, even when 0, as etcd's encoder does.
 */
export function writeRecordHead(
  buf: Uint8Array,
  p: number,
  type: number,
  crc: number,
  dataLength: number | undefined,
): number {
  buf[p++] = 0x08;
  p = writeVarint(buf, p, type);
  buf[p++] = 0x10;
  p = writeVarint(buf, p, crc);
  if (dataLength !== undefined) {
    buf[p++] = 0x1a;
    p = writeVarint(buf, p, dataLength);
  }
  return p;
}

/** Decodes buf[start, end) as a walpb.Record; `data` is a view into buf. */
export function decodeRecord(buf: Uint8Array, start: number, end: number): WalRecord {
  let p = start;
  let type = 0;
  let crc = 0;
  let data: Uint8Array | undefined;
  while (p < end) {
    let tag: number;
    [tag, p] = readVarint(buf, p, end);
    switch (tag) {
      case 0x08:
        [type, p] = readVarint(buf, p, end);
        break;
      case 0x10:
        [crc, p] = readVarint(buf, p, end);
        if (crc > 0xffffffff) throw new RecordDecodeError('crc beyond uint32');
        break;
      case 0x1a: {
        let len: number;
        [len, p] = readVarint(buf, p, end);
        if (p + len > end) throw new RecordDecodeError('data runs past the record');
        data = buf.subarray(p, p + len);
        p += len;
        break;
      }
      default:
        // etcd never writes other fields: anything else is damage, not an extension.
        throw new RecordDecodeError(`unexpected field tag ${tag}`);
    }
  }
  return { type, crc, data };
}

// ---- walpb.Snapshot: index = 1, term = 2, conf_state = 3 ----

export function encodeWalSnapshot(s: WalSnapshot): Uint8Array {
  const cs = s.confState ? encodeConfState(s.confState) : undefined;
  // etcd's (proto2, non-nullable) encoder always writes index and term.
  const size =
    1 +
    varintSize(s.index) +
    1 +
    varintSize(s.term) +
    (cs ? 1 + varintSize(cs.length) + cs.length : 0);
  const buf = new Uint8Array(size);
  let p = 0;
  buf[p++] = 0x08;
  p = writeVarint(buf, p, s.index);
  buf[p++] = 0x10;
  p = writeVarint(buf, p, s.term);
  if (cs) {
    buf[p++] = 0x1a;
    p = writeVarint(buf, p, cs.length);
    buf.set(cs, p);
  }
  return buf;
}

export function decodeWalSnapshot(buf: Uint8Array): WalSnapshot {
  let p = 0;
  const s: WalSnapshot = { index: 0, term: 0 };
  while (p < buf.length) {
    let tag: number;
    [tag, p] = readVarint(buf, p, buf.length);
    if (tag === 0x08) [s.index, p] = readVarint(buf, p, buf.length);
    else if (tag === 0x10) [s.term, p] = readVarint(buf, p, buf.length);
    else if (tag === 0x1a) {
      let len: number;
      [len, p] = readVarint(buf, p, buf.length);
      if (p + len > buf.length) throw new RecordDecodeError('conf_state runs past the snapshot');
      s.confState = decodeConfState(buf.subarray(p, p + len));
      p += len;
    } else throw new RecordDecodeError(`unexpected walpb.Snapshot tag ${tag}`);
  }
  return s;
}
