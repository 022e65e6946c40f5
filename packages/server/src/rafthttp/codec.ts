// The two stream encodings of etcd's peer transport, as pure encoders and push decoders
// (bytes in, messages out; no I/O), so that one decoder serves a socket, a test vector or
// a fuzzer alike.
//
// "message" stream, pipeline and snapshot bodies: each message is an 8-byte big-endian
// length followed by that many bytes of raftpb.Message.
//
// "msgappv2" stream (MsgApp only), one record per message, the first byte its kind:
//   0x00                                   a link heartbeat
//   0x01 count:u64 (size:u64 entry)* commit:u64
//                                          a MsgApp that continues the previous one: same
//                                          term, log term = term, index = the last index
//                                          sent; only the entries and the commit travel
//   0x02 size:u64 message                  any other MsgApp, whole; it sets the term and
//                                          index that the next 0x01 record continues from
// Both ends track (term, index) from the records they saw, so a decoder is tied to one
// connection and starts afresh on a new one.

import {
  decodeEntry,
  decodeMessage,
  EMPTY_BYTES,
  encodeEntryInto,
  encodeMessageInto,
  entrySize,
  type Message,
  MessageType,
  messageSize,
  newMessage,
} from '@etcd-ts/raft';
import { MAX_MESSAGE_BYTES } from './limits.js';

/** A stream that cannot be decoded; the stream it came from is closed, nothing else. */
export class RaftHttpCodecError extends Error {
  override name = 'RaftHttpCodecError';
}

/** etcd's ErrExceedSizeLimit text. */
export const ERR_EXCEED_SIZE_LIMIT = 'rafthttp: error limit exceeded';

export const MSGAPPV2_LINK_HEARTBEAT = 0;
export const MSGAPPV2_APP_ENTRIES = 1;
export const MSGAPPV2_APP = 2;

/**
 * etcd's linkHeartbeatMessage: a MsgHeartbeat with neither From nor To, which raft never
 * sends, so it can keep an idle stream's read deadline from firing without raft seeing it.
 */
export function linkHeartbeatMessage(): Message {
  return newMessage({ type: MessageType.MsgHeartbeat });
}

export function isLinkHeartbeat(m: Message): boolean {
  return m.type === MessageType.MsgHeartbeat && m.from === 0n && m.to === 0n;
}

// ---------------------------------------------------------------------------
// Bytes.

const TWO_32 = 2 ** 32;

function putUint64(buf: Uint8Array, p: number, n: number): number {
  const hi = Math.floor(n / TWO_32);
  const lo = n >>> 0;
  buf[p] = hi >>> 24;
  buf[p + 1] = (hi >>> 16) & 0xff;
  buf[p + 2] = (hi >>> 8) & 0xff;
  buf[p + 3] = hi & 0xff;
  buf[p + 4] = lo >>> 24;
  buf[p + 5] = (lo >>> 16) & 0xff;
  buf[p + 6] = (lo >>> 8) & 0xff;
  buf[p + 7] = lo & 0xff;
  return p + 8;
}

/** A big-endian uint64 as a number; anything past 2^53 reads as Infinity (over every limit). */
function readUint64(b: Uint8Array): number {
  const hi = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const lo = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  const n = hi * TWO_32 + lo;
  return n > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : n;
}

/**
 * The bytes received and not yet decoded: chunks as they came, read from the front. A read
 * that lies within one chunk is a view of it (chunks are never reused), else a copy.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Removes and returns the first n bytes; the caller checked that there are n. */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY_BYTES;
    if (n > this.size) throw new RangeError(`ByteQueue: ${n} bytes asked, ${this.size} held`);
    this.size -= n;
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return view;
    }
    const out = new Uint8Array(n);
    let p = 0;
    while (p < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.offset, n - p);
      out.set(c.subarray(this.offset, this.offset + k), p);
      p += k;
      this.advance(c, k);
    }
    return out;
  }

  /** Removes and returns everything held, as chunks. */
  drain(): Uint8Array[] {
    const out = this.chunks;
    if (out.length > 0 && this.offset > 0) out[0] = out[0]!.subarray(this.offset);
    this.chunks = [];
    this.offset = 0;
    this.size = 0;
    return out;
  }

  private advance(c: Uint8Array, k: number): void {
    this.offset += k;
    if (this.offset === c.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

function decodeRaftMessage(b: Uint8Array): Message {
  try {
    return decodeMessage(b);
  } catch (err) {
    throw new RaftHttpCodecError(`failed to unmarshal raft message: ${(err as Error).message}`);
  }
}

function checkSize(n: number, limit: number): number {
  if (n > limit) throw new RaftHttpCodecError(ERR_EXCEED_SIZE_LIMIT);
  return n;
}

// ---------------------------------------------------------------------------
// The message encoding.

/** One message as the message stream, the pipeline and a snapshot body carry it. */
export function encodeFrame(m: Message): Uint8Array {
  const n = messageSize(m);
  const buf = new Uint8Array(8 + n);
  putUint64(buf, 0, n);
  encodeMessageInto(m, buf, 8);
  return buf;
}

/** The length a frame header announces; Infinity past 2^53. */
export function frameLength(header: Uint8Array): number {
  return readUint64(header);
}

/** Decodes a message stream as its bytes arrive (etcd's messageDecoder). */
export class MessageDecoder {
  private readonly q = new ByteQueue();
  private need = -1;

  constructor(private readonly limit: number = MAX_MESSAGE_BYTES) {}

  /**
   * Feeds bytes and returns the messages they complete. Throws RaftHttpCodecError on a
   * frame longer than the limit or a message that does not decode; the decoder is then
   * spent, as is the stream.
   */
  push(chunk: Uint8Array): Message[] {
    this.q.push(chunk);
    const out: Message[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.q.length < 8) break;
        this.need = checkSize(readUint64(this.q.take(8)), this.limit);
      }
      if (this.q.length < this.need) break;
      out.push(decodeRaftMessage(this.q.take(this.need)));
      this.need = -1;
    }
    return out;
  }

  /** Bytes held for a message not yet complete. */
  get buffered(): number {
    return this.q.length;
  }
}

// ---------------------------------------------------------------------------
// The msgappv2 encoding.

/** Encodes the MsgApps (and link heartbeats) of one msgappv2 connection. */
export class MsgAppV2Encoder {
  private term = 0;
  private index = 0;

  encode(m: Message): Uint8Array {
    if (isLinkHeartbeat(m)) return Uint8Array.of(MSGAPPV2_LINK_HEARTBEAT);
    const ents = m.entries;
    if (this.index === m.index && this.term === m.logTerm && m.logTerm === m.term) {
      let n = 1 + 8 + 8;
      for (let i = 0; i < ents.length; i++) n += 8 + entrySize(ents[i]!);
      const buf = new Uint8Array(n);
      buf[0] = MSGAPPV2_APP_ENTRIES;
      let p = putUint64(buf, 1, ents.length);
      for (let i = 0; i < ents.length; i++) {
        const e = ents[i]!;
        p = putUint64(buf, p, entrySize(e));
        p = encodeEntryInto(e, buf, p);
        this.index++;
      }
      putUint64(buf, p, m.commit);
      return buf;
    }
    const n = messageSize(m);
    const buf = new Uint8Array(1 + 8 + n);
    buf[0] = MSGAPPV2_APP;
    putUint64(buf, 1, n);
    encodeMessageInto(m, buf, 9);
    this.term = m.term;
    this.index = ents.length > 0 ? ents[ents.length - 1]!.index : m.index;
    return buf;
  }
}

type V2State = 'kind' | 'count' | 'entrySize' | 'entry' | 'commit' | 'size' | 'message';

/**
 * Decodes one msgappv2 connection from `remote` to `local` (etcd's msgAppV2Decoder). The
 * bytes of one message (its entries together) are bounded by the limit.
 */
export class MsgAppV2Decoder {
  private readonly q = new ByteQueue();
  private state: V2State = 'kind';
  private need = 1;
  private term = 0;
  private index = 0;
  /** The 0x01 record being read: its message, entries still to come and bytes so far. */
  private app: Message | undefined;
  private left = 0;
  private bytes = 0;

  constructor(
    private readonly local: bigint,
    private readonly remote: bigint,
    private readonly limit: number = MAX_MESSAGE_BYTES,
  ) {}

  /** Feeds bytes and returns the messages they complete; throws RaftHttpCodecError. */
  push(chunk: Uint8Array): Message[] {
    this.q.push(chunk);
    const out: Message[] = [];
    while (this.q.length >= this.need) {
      const b = this.q.take(this.need);
      const m = this.step(b);
      if (m !== undefined) out.push(m);
    }
    return out;
  }

  get buffered(): number {
    return this.q.length;
  }

  private expect(state: V2State, need: number): void {
    this.state = state;
    this.need = need;
  }

  private step(b: Uint8Array): Message | undefined {
    switch (this.state) {
      case 'kind': {
        const kind = b[0]!;
        if (kind === MSGAPPV2_LINK_HEARTBEAT) return linkHeartbeatMessage();
        if (kind === MSGAPPV2_APP_ENTRIES) {
          this.app = newMessage({
            type: MessageType.MsgApp,
            from: this.remote,
            to: this.local,
            term: this.term,
            logTerm: this.term,
            index: this.index,
          });
          this.bytes = 0;
          this.expect('count', 8);
          return undefined;
        }
        if (kind === MSGAPPV2_APP) {
          this.expect('size', 8);
          return undefined;
        }
        throw new RaftHttpCodecError(`failed to parse type ${kind} in msgappv2 stream`);
      }
      case 'count':
        // Each entry takes 8 bytes of length at least, which bounds a count that fits.
        this.left = checkSize(readUint64(b), Math.floor(this.limit / 8));
        this.expect(this.left > 0 ? 'entrySize' : 'commit', 8);
        return undefined;
      case 'entrySize': {
        const size = readUint64(b);
        this.bytes = checkSize(this.bytes + 8 + size, this.limit);
        this.expect('entry', size);
        return undefined;
      }
      case 'entry': {
        let e: ReturnType<typeof decodeEntry>;
        try {
          e = decodeEntry(b);
        } catch (err) {
          throw new RaftHttpCodecError(`failed to unmarshal raft entry: ${(err as Error).message}`);
        }
        this.app!.entries.push(e);
        this.index++;
        this.left--;
        this.expect(this.left > 0 ? 'entrySize' : 'commit', 8);
        return undefined;
      }
      case 'commit': {
        const m = this.app!;
        m.commit = checkSize(readUint64(b), Number.MAX_SAFE_INTEGER);
        this.app = undefined;
        this.expect('kind', 1);
        return m;
      }
      case 'size':
        this.expect('message', checkSize(readUint64(b), this.limit));
        return undefined;
      case 'message': {
        const m = decodeRaftMessage(b);
        this.term = m.term;
        this.index = m.entries.length > 0 ? m.entries[m.entries.length - 1]!.index : m.index;
        this.expect('kind', 1);
        return m;
      }
    }
  }
}
