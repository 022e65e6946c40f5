// A hand-written protobuf codec for the raftpb messages, byte-compatible with
// what etcd's gogo-generated marshalers produce: fields in field-number order,
// non-nullable scalar fields always written (even when zero), nullable bytes
// written only when present, repeated uint64 unpacked (proto2). It sizes a
// message first and writes it into one exactly-sized buffer, because the WAL
// and the transport encode every entry and message that passes through them.
//
// Decoded bytes fields (Entry.data, Message.context, Snapshot.data...) are
// views into the input buffer, not copies: copy them if the buffer is reused.
// Encoded messages up to 4 KiB are carved from shared 64 KiB slabs (as
// Buffer.allocUnsafe does), because allocating a small typed array costs more
// than encoding it: use byteOffset/byteLength, never .buffer alone.

import {
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeTransition,
  type ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MessageType,
  type Snapshot,
  type SnapshotMetadata,
} from './raftpb.js';

export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

// ---------------------------------------------------------------------------
// Output buffers.

const SLAB_SIZE = 64 * 1024;
const SLAB_MAX = 4 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

/** A zero-filled-or-overwritten buffer of exactly n bytes; encoders write every byte. */
function alloc(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabOffset + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const b = new Uint8Array(slab, slabOffset, n);
  slabOffset += (n + 7) & ~7; // keep 8-byte alignment
  return b;
}

// ---------------------------------------------------------------------------
// Varints.

function sizeVarint(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 0x800000000) return 5;
  if (n < 0x40000000000) return 6;
  if (n < 0x2000000000000) return 7;
  return 8; // every safe integer (< 2^53) fits in 8 bytes of 7 bits
}

const U32 = 0xffffffffn;

function sizeVarint64(v: bigint): number {
  if (v < 0x80n) return 1;
  let n = 0;
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n + 1;
}

function writeVarint(buf: Uint8Array, p: number, n: number): number {
  while (n > 0x7fffffff) {
    buf[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  while (n > 0x7f) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

function writeVarint64(buf: Uint8Array, p: number, v: bigint): number {
  if (v >= 0n && v < 0x80000000n) return writeVarint(buf, p, Number(v));
  const x = BigInt.asUintN(64, v);
  let lo = Number(x & U32);
  let hi = Number(x >> 32n);
  // Emit 7 bits at a time from the 64-bit value held as two 32-bit halves.
  while (hi !== 0 || lo > 0x7f) {
    buf[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[p++] = lo;
  return p;
}

function writeBytes(buf: Uint8Array, p: number, tag: number, b: Uint8Array): number {
  buf[p++] = tag;
  p = writeVarint(buf, p, b.length);
  buf.set(b, p);
  return p + b.length;
}

function checkUint(n: number, what: string): void {
  if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n))) {
    throw new RangeError(`raftpb: ${what} ${n} is not an unsigned safe integer`);
  }
}

// ---------------------------------------------------------------------------
// Reader.

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }

  uint(): number {
    const buf = this.buf;
    let p = this.pos;
    let b = buf[p++]!;
    if (b < 0x80) {
      this.pos = p;
      return b;
    }
    let result = b & 0x7f;
    let shift = 7;
    // Up to 28 bits with integer shifts, then floating multiplication.
    while (shift < 28) {
      if (p >= this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
      b = buf[p++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        return result >>> 0;
      }
      shift += 7;
    }
    result >>>= 0;
    let mul = 2 ** 28;
    for (let i = 0; i < 6; i++) {
      if (p >= this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
      b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = p;
        if (result > Number.MAX_SAFE_INTEGER) {
          throw new ProtoDecodeError('raftpb: integer overflows a safe integer');
        }
        return result;
      }
      mul *= 128;
    }
    throw new ProtoDecodeError('raftpb: integer overflow');
  }

  uint64(): bigint {
    const buf = this.buf;
    const start = this.pos;
    // Fast path: up to 4 bytes fits in a small integer.
    let p = start;
    for (let i = 0; i < 4 && p < this.end; i++) {
      if (buf[p++]! < 0x80) return BigInt(this.uint());
    }
    let lo = 0;
    let hi = 0;
    p = start;
    for (let shift = 0; shift < 70; shift += 7) {
      if (p >= this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
      const b = buf[p++]!;
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0xf) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) {
        this.pos = p;
        return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      }
    }
    throw new ProtoDecodeError('raftpb: integer overflow');
  }

  bool(): boolean {
    return this.uint() !== 0;
  }

  bytes(): Uint8Array {
    const n = this.uint();
    const start = this.pos;
    const end = start + n;
    if (end > this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** The end offset of a length-delimited field whose length is read now. */
  sub(): number {
    const n = this.uint();
    const end = this.pos + n;
    if (end > this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
    return end;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        while (this.buf[this.pos++]! & 0x80) {
          if (this.pos >= this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
        }
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.sub();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new ProtoDecodeError(`raftpb: illegal wireType ${wireType}`);
    }
    if (this.pos > this.end) throw new ProtoDecodeError('raftpb: unexpected EOF');
  }
}

// ---------------------------------------------------------------------------
// Entry: Type=1, Term=2, Index=3, Data=4.

export function entrySize(e: Entry): number {
  let n = 3 + sizeVarint(e.type) + sizeVarint(e.term) + sizeVarint(e.index);
  const d = e.data.length;
  if (d > 0) n += 1 + sizeVarint(d) + d;
  return n;
}

/** Writes e at buf[p...] and returns the offset after it; buf must have entrySize(e) bytes free. */
export function encodeEntryInto(e: Entry, buf: Uint8Array, p: number): number {
  buf[p++] = 0x08;
  p = writeVarint(buf, p, e.type);
  buf[p++] = 0x10;
  p = writeVarint(buf, p, e.term);
  buf[p++] = 0x18;
  p = writeVarint(buf, p, e.index);
  if (e.data.length > 0) p = writeBytes(buf, p, 0x22, e.data);
  return p;
}

export function encodeEntry(e: Entry): Uint8Array {
  checkUint(e.term, 'term');
  checkUint(e.index, 'index');
  const buf = alloc(entrySize(e));
  encodeEntryInto(e, buf, 0);
  return buf;
}

function readEntry(r: Reader, end: number): Entry {
  let type = 0;
  let term = 0;
  let index = 0;
  let data = EMPTY_BYTES;
  while (r.pos < end) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
        type = r.uint();
        break;
      case 0x10:
        term = r.uint();
        break;
      case 0x18:
        index = r.uint();
        break;
      case 0x22:
        data = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return { term, index, type: type as EntryType, data };
}

export function decodeEntry(buf: Uint8Array): Entry {
  const r = new Reader(buf, 0, buf.length);
  return readEntry(r, buf.length);
}

// ---------------------------------------------------------------------------
// HardState: term=1, vote=2, commit=3.

export function hardStateSize(h: HardState): number {
  return 3 + sizeVarint(h.term) + sizeVarint64(h.vote) + sizeVarint(h.commit);
}

export function encodeHardStateInto(h: HardState, buf: Uint8Array, p: number): number {
  buf[p++] = 0x08;
  p = writeVarint(buf, p, h.term);
  buf[p++] = 0x10;
  p = writeVarint64(buf, p, h.vote);
  buf[p++] = 0x18;
  return writeVarint(buf, p, h.commit);
}

export function encodeHardState(h: HardState): Uint8Array {
  checkUint(h.term, 'term');
  checkUint(h.commit, 'commit');
  const buf = alloc(hardStateSize(h));
  encodeHardStateInto(h, buf, 0);
  return buf;
}

export function decodeHardState(buf: Uint8Array): HardState {
  const r = new Reader(buf, 0, buf.length);
  const h: HardState = { term: 0, vote: 0n, commit: 0 };
  while (r.pos < buf.length) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
        h.term = r.uint();
        break;
      case 0x10:
        h.vote = r.uint64();
        break;
      case 0x18:
        h.commit = r.uint();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return h;
}

// ---------------------------------------------------------------------------
// ConfState: voters=1, learners=2, voters_outgoing=3, learners_next=4 (all
// repeated uint64, unpacked), auto_leave=5.

function idsSize(ids: bigint[]): number {
  let n = 0;
  for (const id of ids) n += 1 + sizeVarint64(id);
  return n;
}

export function confStateSize(c: ConfState): number {
  return (
    idsSize(c.voters) +
    idsSize(c.learners) +
    idsSize(c.votersOutgoing) +
    idsSize(c.learnersNext) +
    2
  );
}

function writeIds(buf: Uint8Array, p: number, tag: number, ids: bigint[]): number {
  for (const id of ids) {
    buf[p++] = tag;
    p = writeVarint64(buf, p, id);
  }
  return p;
}

function writeConfState(c: ConfState, buf: Uint8Array, p: number): number {
  p = writeIds(buf, p, 0x08, c.voters);
  p = writeIds(buf, p, 0x10, c.learners);
  p = writeIds(buf, p, 0x18, c.votersOutgoing);
  p = writeIds(buf, p, 0x20, c.learnersNext);
  buf[p++] = 0x28;
  buf[p++] = c.autoLeave ? 1 : 0;
  return p;
}

/** Reads one repeated uint64 field value, accepting the packed form as well. */
function readIds(r: Reader, tag: number, into: bigint[]): void {
  if ((tag & 7) === 2) {
    const end = r.sub();
    while (r.pos < end) into.push(r.uint64());
  } else {
    into.push(r.uint64());
  }
}

function readConfState(r: Reader, end: number): ConfState {
  const c: ConfState = {
    voters: [],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  while (r.pos < end) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
      case 0x0a:
        readIds(r, tag, c.voters);
        break;
      case 0x10:
      case 0x12:
        readIds(r, tag, c.learners);
        break;
      case 0x18:
      case 0x1a:
        readIds(r, tag, c.votersOutgoing);
        break;
      case 0x20:
      case 0x22:
        readIds(r, tag, c.learnersNext);
        break;
      case 0x28:
        c.autoLeave = r.bool();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return c;
}

export function encodeConfState(c: ConfState): Uint8Array {
  const buf = alloc(confStateSize(c));
  writeConfState(c, buf, 0);
  return buf;
}

export function decodeConfState(buf: Uint8Array): ConfState {
  return readConfState(new Reader(buf, 0, buf.length), buf.length);
}

// ---------------------------------------------------------------------------
// SnapshotMetadata: conf_state=1, index=2, term=3. Snapshot: data=1, metadata=2.

function metadataSize(m: SnapshotMetadata): number {
  const cs = confStateSize(m.confState);
  return 1 + sizeVarint(cs) + cs + 2 + sizeVarint(m.index) + sizeVarint(m.term);
}

function writeMetadata(m: SnapshotMetadata, buf: Uint8Array, p: number): number {
  buf[p++] = 0x0a;
  p = writeVarint(buf, p, confStateSize(m.confState));
  p = writeConfState(m.confState, buf, p);
  buf[p++] = 0x10;
  p = writeVarint(buf, p, m.index);
  buf[p++] = 0x18;
  return writeVarint(buf, p, m.term);
}

function readMetadata(r: Reader, end: number): SnapshotMetadata {
  let confState: ConfState | undefined;
  let index = 0;
  let term = 0;
  while (r.pos < end) {
    const tag = r.uint();
    switch (tag) {
      case 0x0a: {
        const e = r.sub();
        confState = readConfState(r, e);
        break;
      }
      case 0x10:
        index = r.uint();
        break;
      case 0x18:
        term = r.uint();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  confState ??= {
    voters: [],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  return { confState, index, term };
}

export function snapshotSize(s: Snapshot): number {
  let n = 0;
  if (s.data.length > 0) n += 1 + sizeVarint(s.data.length) + s.data.length;
  const m = metadataSize(s.metadata);
  return n + 1 + sizeVarint(m) + m;
}

function writeSnapshot(s: Snapshot, buf: Uint8Array, p: number): number {
  if (s.data.length > 0) p = writeBytes(buf, p, 0x0a, s.data);
  buf[p++] = 0x12;
  p = writeVarint(buf, p, metadataSize(s.metadata));
  return writeMetadata(s.metadata, buf, p);
}

function readSnapshot(r: Reader, end: number): Snapshot {
  let data = EMPTY_BYTES;
  let metadata: SnapshotMetadata | undefined;
  while (r.pos < end) {
    const tag = r.uint();
    switch (tag) {
      case 0x0a:
        data = r.bytes();
        break;
      case 0x12: {
        const e = r.sub();
        metadata = readMetadata(r, e);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  metadata ??= readMetadata(r, r.pos);
  return { data, metadata };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  checkUint(s.metadata.index, 'index');
  checkUint(s.metadata.term, 'term');
  const buf = alloc(snapshotSize(s));
  writeSnapshot(s, buf, 0);
  return buf;
}

export function decodeSnapshot(buf: Uint8Array): Snapshot {
  return readSnapshot(new Reader(buf, 0, buf.length), buf.length);
}

export function encodeSnapshotMetadata(m: SnapshotMetadata): Uint8Array {
  const buf = alloc(metadataSize(m));
  writeMetadata(m, buf, 0);
  return buf;
}

export function decodeSnapshotMetadata(buf: Uint8Array): SnapshotMetadata {
  return readMetadata(new Reader(buf, 0, buf.length), buf.length);
}

// ---------------------------------------------------------------------------
// Message: type=1, to=2, from=3, term=4, logTerm=5, index=6, entries=7,
// commit=8, snapshot=9 (always written), reject=10, rejectHint=11, context=12.

const EMPTY_SNAPSHOT_SIZE = 10; // data absent + empty metadata (see snapshotSize)

export function messageSize(m: Message): number {
  let n =
    6 +
    sizeVarint(m.type) +
    sizeVarint64(m.to) +
    sizeVarint64(m.from) +
    sizeVarint(m.term) +
    sizeVarint(m.logTerm) +
    sizeVarint(m.index);
  const ents = m.entries;
  for (let i = 0; i < ents.length; i++) {
    const es = entrySize(ents[i]!);
    n += 1 + sizeVarint(es) + es;
  }
  n += 1 + sizeVarint(m.commit);
  const ss = m.snapshot === undefined ? EMPTY_SNAPSHOT_SIZE : snapshotSize(m.snapshot);
  n += 1 + sizeVarint(ss) + ss;
  n += 2 + 1 + sizeVarint(m.rejectHint);
  if (m.context.length > 0) n += 1 + sizeVarint(m.context.length) + m.context.length;
  return n;
}

const EMPTY_SNAPSHOT_BYTES = new Uint8Array([
  0x12, 0x08, 0x0a, 0x02, 0x28, 0x00, 0x10, 0x00, 0x18, 0x00,
]);

export function encodeMessageInto(m: Message, buf: Uint8Array, p: number): number {
  buf[p++] = 0x08;
  p = writeVarint(buf, p, m.type);
  buf[p++] = 0x10;
  p = writeVarint64(buf, p, m.to);
  buf[p++] = 0x18;
  p = writeVarint64(buf, p, m.from);
  buf[p++] = 0x20;
  p = writeVarint(buf, p, m.term);
  buf[p++] = 0x28;
  p = writeVarint(buf, p, m.logTerm);
  buf[p++] = 0x30;
  p = writeVarint(buf, p, m.index);
  const ents = m.entries;
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    buf[p++] = 0x3a;
    p = writeVarint(buf, p, entrySize(e));
    p = encodeEntryInto(e, buf, p);
  }
  buf[p++] = 0x40;
  p = writeVarint(buf, p, m.commit);
  buf[p++] = 0x4a;
  if (m.snapshot === undefined) {
    buf[p++] = EMPTY_SNAPSHOT_SIZE;
    buf.set(EMPTY_SNAPSHOT_BYTES, p);
    p += EMPTY_SNAPSHOT_SIZE;
  } else {
    p = writeVarint(buf, p, snapshotSize(m.snapshot));
    p = writeSnapshot(m.snapshot, buf, p);
  }
  buf[p++] = 0x50;
  buf[p++] = m.reject ? 1 : 0;
  buf[p++] = 0x58;
  p = writeVarint(buf, p, m.rejectHint);
  if (m.context.length > 0) p = writeBytes(buf, p, 0x62, m.context);
  return p;
}

export function encodeMessage(m: Message): Uint8Array {
  const buf = alloc(messageSize(m));
  encodeMessageInto(m, buf, 0);
  return buf;
}

export function decodeMessage(buf: Uint8Array): Message {
  const end = buf.length;
  const r = new Reader(buf, 0, end);
  const m: Message = {
    type: 0,
    to: 0n,
    from: 0n,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
  };
  while (r.pos < end) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
        m.type = r.uint() as MessageType;
        break;
      case 0x10:
        m.to = r.uint64();
        break;
      case 0x18:
        m.from = r.uint64();
        break;
      case 0x20:
        m.term = r.uint();
        break;
      case 0x28:
        m.logTerm = r.uint();
        break;
      case 0x30:
        m.index = r.uint();
        break;
      case 0x3a: {
        const e = r.sub();
        m.entries.push(readEntry(r, e));
        r.pos = e;
        break;
      }
      case 0x40:
        m.commit = r.uint();
        break;
      case 0x4a: {
        const e = r.sub();
        const s = readSnapshot(r, e);
        r.pos = e;
        // The empty snapshot every message carries on the wire stays absent.
        if (s.metadata.index !== 0 || s.data.length > 0) m.snapshot = s;
        break;
      }
      case 0x50:
        m.reject = r.bool();
        break;
      case 0x58:
        m.rejectHint = r.uint();
        break;
      case 0x62:
        m.context = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return m;
}

// ---------------------------------------------------------------------------
// ConfChange: ID=1, Type=2, NodeID=3, Context=4.

export function encodeConfChange(c: ConfChange): Uint8Array {
  let n = 3 + sizeVarint64(c.id) + sizeVarint(c.type) + sizeVarint64(c.nodeId);
  if (c.context.length > 0) n += 1 + sizeVarint(c.context.length) + c.context.length;
  const buf = alloc(n);
  let p = 0;
  buf[p++] = 0x08;
  p = writeVarint64(buf, p, c.id);
  buf[p++] = 0x10;
  p = writeVarint(buf, p, c.type);
  buf[p++] = 0x18;
  p = writeVarint64(buf, p, c.nodeId);
  if (c.context.length > 0) writeBytes(buf, p, 0x22, c.context);
  return buf;
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  const r = new Reader(buf, 0, buf.length);
  const c: ConfChange = { type: 0, nodeId: 0n, context: EMPTY_BYTES, id: 0n };
  while (r.pos < buf.length) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
        c.id = r.uint64();
        break;
      case 0x10:
        c.type = r.uint() as ConfChangeType;
        break;
      case 0x18:
        c.nodeId = r.uint64();
        break;
      case 0x22:
        c.context = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return c;
}

// ---------------------------------------------------------------------------
// ConfChangeSingle: type=1, node_id=2. ConfChangeV2: transition=1, changes=2, context=3.

function singleSize(c: ConfChangeSingle): number {
  return 2 + sizeVarint(c.type) + sizeVarint64(c.nodeId);
}

export function encodeConfChangeV2(c: ConfChangeV2): Uint8Array {
  let n = 1 + sizeVarint(c.transition);
  for (const ch of c.changes) {
    const s = singleSize(ch);
    n += 1 + sizeVarint(s) + s;
  }
  if (c.context.length > 0) n += 1 + sizeVarint(c.context.length) + c.context.length;
  const buf = alloc(n);
  let p = 0;
  buf[p++] = 0x08;
  p = writeVarint(buf, p, c.transition);
  for (const ch of c.changes) {
    buf[p++] = 0x12;
    p = writeVarint(buf, p, singleSize(ch));
    buf[p++] = 0x08;
    p = writeVarint(buf, p, ch.type);
    buf[p++] = 0x10;
    p = writeVarint64(buf, p, ch.nodeId);
  }
  if (c.context.length > 0) writeBytes(buf, p, 0x1a, c.context);
  return buf;
}

export function decodeConfChangeV2(buf: Uint8Array): ConfChangeV2 {
  const r = new Reader(buf, 0, buf.length);
  const c: ConfChangeV2 = { transition: 0, changes: [], context: EMPTY_BYTES };
  while (r.pos < buf.length) {
    const tag = r.uint();
    switch (tag) {
      case 0x08:
        c.transition = r.uint() as ConfChangeTransition;
        break;
      case 0x12: {
        const end = r.sub();
        const ch: ConfChangeSingle = { type: 0, nodeId: 0n };
        while (r.pos < end) {
          const t = r.uint();
          if (t === 0x08) ch.type = r.uint() as ConfChangeType;
          else if (t === 0x10) ch.nodeId = r.uint64();
          else r.skip(t & 7);
        }
        c.changes.push(ch);
        break;
      }
      case 0x1a:
        c.context = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return c;
}
