import { type Entry, encodeEntryInto, entrySize } from '@etcd-ts/raft';
import { crc32cUpdate } from './crc.js';
import {
  decodeRecord,
  RecordDecodeError,
  RecordType,
  recordSize,
  type WalRecord,
  writeRecordHead,
} from './record.js';

/**
 * A frame is an 8-byte little-endian length field, the encoded walpb.Record, and zero
 * padding to the next 8-byte boundary. The low 56 bits of the length field hold the
 * record's length; when there is padding, the top byte is 0x80 | padding. Records are
 * thus 8-byte aligned, and a zero length field is the zero-filled (preallocated) end.
 */
export const FRAME_HEADER_BYTES = 8;

/** No record is larger than this: a bigger length field is damage, not data. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function padding(recordBytes: number): number {
  return (8 - (recordBytes % 8)) % 8;
}

/**
 * Encodes records into one growing buffer, carrying the CRC-32C chain: every record's crc
 * is the running checksum of all record data before it and its own. One save() becomes one
 * buffer and so one write.
 */
export class FrameEncoder {
  private buf: Buffer;
  private len = 0;
  private scratch: Uint8Array = new Uint8Array(4096);

  constructor(
    /** The running CRC, continued from the previous record (0 for a new WAL). */
    public crc: number,
    initialBytes = 64 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get pending(): number {
    return this.len;
  }

  /** Appends a record whose data is `data` (undefined: no data field, as for crc records). */
  appendRecord(type: number, data: Uint8Array | undefined): void {
    if (type === RecordType.crc) {
      this.appendFrame(type, this.crc, undefined);
      return;
    }
    const bytes = data ?? new Uint8Array(0);
    this.crc = crc32cUpdate(this.crc, bytes);
    this.appendFrame(type, this.crc, bytes);
  }

  /** Appends the CRC record that opens a segment, holding the previous segment's running CRC. */
  appendCrcRecord(): void {
    this.appendFrame(RecordType.crc, this.crc, undefined);
  }

  /** Appends an entry record, encoding the entry once into scratch space. */
  appendEntry(e: Entry): void {
    const size = entrySize(e);
    if (this.scratch.length < size)
      this.scratch = new Uint8Array(Math.max(size, this.scratch.length * 2));
    encodeEntryInto(e, this.scratch, 0);
    const data = this.scratch.subarray(0, size);
    this.crc = crc32cUpdate(this.crc, data);
    this.appendFrame(RecordType.entry, this.crc, data);
  }

  /** The frames appended since the last take(), as a view valid until the next append. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }

  /** Drops everything appended since the last take() (after a failed write). */
  reset(crc: number): void {
    this.len = 0;
    this.crc = crc;
  }

  private appendFrame(type: number, crc: number, data: Uint8Array | undefined): void {
    const recBytes = recordSize(type, crc, data?.length);
    const pad = padding(recBytes);
    const frameBytes = FRAME_HEADER_BYTES + recBytes + pad;
    this.ensure(frameBytes);
    const buf = this.buf;
    let p = this.len;
    // Length field: low 56 bits the record length, top byte 0x80|pad when padded.
    buf.writeUInt32LE(recBytes % 0x100000000, p);
    const hi = Math.floor(recBytes / 0x100000000) | (pad > 0 ? (0x80 | pad) << 24 : 0);
    buf.writeUInt32LE(hi >>> 0, p + 4);
    p += FRAME_HEADER_BYTES;
    p = writeRecordHead(buf, p, type, crc, data?.length);
    if (data !== undefined && data.length > 0) {
      buf.set(data, p);
      p += data.length;
    }
    for (let i = 0; i < pad; i++) buf[p++] = 0;
    this.len = p;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

export type FrameRead =
  | { kind: 'record'; record: WalRecord; next: number }
  /** A zero length field, or the end of the file exactly at a frame boundary. */
  | { kind: 'end' }
  /** Bytes at `offset` are not a whole, well-formed frame. */
  | { kind: 'bad'; reason: string };

/** Reads the frame at buf[offset], within buf[0, end). Does not check the CRC. */
export function readFrame(buf: Uint8Array, offset: number, end: number): FrameRead {
  if (offset === end) return { kind: 'end' };
  if (offset + FRAME_HEADER_BYTES > end) return { kind: 'bad', reason: 'truncated length field' };
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const lo = view.readUInt32LE(offset);
  const hi = view.readUInt32LE(offset + 4);
  if (lo === 0 && hi === 0) return { kind: 'end' };
  const recBytes = lo + (hi & 0xffffff) * 0x100000000;
  const pad = hi & 0x80000000 ? (hi >>> 24) & 0x7 : 0;
  if ((hi & 0x80000000) === 0 && hi >>> 24 !== 0)
    return { kind: 'bad', reason: 'malformed length field' };
  if ((hi & 0x78000000) !== 0) return { kind: 'bad', reason: 'malformed padding bits' };
  if (recBytes === 0 || recBytes > MAX_RECORD_BYTES) {
    return { kind: 'bad', reason: `implausible record length ${recBytes}` };
  }
  if (padding(recBytes) !== pad) return { kind: 'bad', reason: 'padding does not match length' };
  const start = offset + FRAME_HEADER_BYTES;
  const next = start + recBytes + pad;
  if (next > end) return { kind: 'bad', reason: 'record runs past the end of the file' };
  for (let i = start + recBytes; i < next; i++) {
    if (buf[i] !== 0) return { kind: 'bad', reason: 'non-zero padding' };
  }
  try {
    const record = decodeRecord(buf, start, start + recBytes);
    if (record.type < RecordType.metadata || record.type > RecordType.snapshot) {
      return { kind: 'bad', reason: `unknown record type ${record.type}` };
    }
    return { kind: 'record', record, next };
  } catch (err) {
    if (err instanceof RecordDecodeError) return { kind: 'bad', reason: err.message };
    throw err;
  }
}

/**
 * Whether any well-formed frame starts at an 8-byte aligned offset in buf(from, end).
 * Used to tell a torn tail (nothing valid after the damage) from corruption in the middle
 * of the log (valid records follow it).
 */
export function anyFrameAfter(buf: Uint8Array, from: number, end: number): boolean {
  const first = from + 8 - (from % 8);
  for (let off = first; off + FRAME_HEADER_BYTES <= end; off += 8) {
    // Fast reject: the zero-filled tail and most data fail here.
    if (buf[off] === 0 && buf[off + 1] === 0 && buf[off + 2] === 0 && buf[off + 3] === 0) continue;
    if (readFrame(buf, off, end).kind === 'record') return true;
  }
  return false;
}
