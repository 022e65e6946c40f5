import {
  type Entry,
  EntryType,
  encodeMessage,
  type Message,
  MessageType,
  newEntry,
  newMessage,
  newSnapshot,
} from '@etcd-ts/raft';
import { describe, expect, it } from 'vitest';
import {
  ByteQueue,
  ERR_EXCEED_SIZE_LIMIT,
  encodeFrame,
  isLinkHeartbeat,
  linkHeartbeatMessage,
  MessageDecoder,
  MsgAppV2Decoder,
  MsgAppV2Encoder,
  RaftHttpCodecError,
} from './codec.js';

// Byte strings written out by hand from raftpb's gogo marshalers (raft/raftpb/raft.pb.go in
// etcd 3.4): every non-nullable field is written even when zero, the snapshot of a message
// always, bytes only when non-nil, repeated uint64 unpacked.
const b = (s: string) => Uint8Array.from(Buffer.from(s));
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const EMPTY_SNAPSHOT = '4a0a 1208 0a02 2800 1000 1800';

function uvarint(v: bigint): string {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out).toString('hex');
}

function u64(n: number): string {
  return n.toString(16).padStart(16, '0');
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe('raftpb bytes as etcd 3.4 writes them', () => {
  it('a link heartbeat: every scalar zero and the empty snapshot, 30 bytes', () => {
    const body = `0808 1000 1800 2000 2800 3000 4000 ${EMPTY_SNAPSHOT} 5000 5800`;
    expect(Buffer.from(encodeMessage(linkHeartbeatMessage())).toString('hex')).toBe(
      body.replace(/\s/g, ''),
    );
    expect(Buffer.from(encodeFrame(linkHeartbeatMessage())).toString('hex')).toBe(
      `${u64(30)}${body.replace(/\s/g, '')}`,
    );
  });

  it('a MsgApp with an entry', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      to: 2n,
      from: 1n,
      term: 5,
      logTerm: 4,
      index: 10,
      entries: [newEntry({ term: 5, index: 11, data: b('ab') })],
      commit: 9,
    });
    const go = hex(`0803 1002 1801 2005 2804 300a 3a0a 0800 1005 180b 2202 6162 4009
      ${EMPTY_SNAPSHOT} 5000 5800`);
    expect(Buffer.from(encodeMessage(m))).toEqual(Buffer.from(go));
    expect(new MessageDecoder().push(concat([hex(u64(go.length)), go]))).toEqual([m]);
  });

  it('a MsgSnap with its snapshot, 64-bit ids, and an empty-but-present entry data', () => {
    const to = 0x8e9e05c52164694dn;
    const from = 0xfedcba9876543210n;
    const m = newMessage({
      type: MessageType.MsgSnap,
      to,
      from,
      term: 7,
      snapshot: newSnapshot({
        data: b('xy'),
        metadata: { confState: { voters: [1n, 2n], learners: [3n] }, index: 100, term: 7 },
      }),
    });
    const go = hex(`0807 10${uvarint(to)} 18${uvarint(from)} 2007 2800 3000 4000
      4a14 0a02 7879 120e 0a08 0801 0802 1003 2800 1064 1807 5000 5800`);
    expect(Buffer.from(encodeMessage(m))).toEqual(Buffer.from(go));
    const [back] = new MessageDecoder().push(concat([hex(u64(go.length)), go]));
    expect(back).toEqual(m);

    // Go writes a non-nil empty Data as a present, empty field (22 00): the same entry.
    const withEmpty = hex('0803 1002 1801 2001 2801 3001 3a08 0800 1001 1802 2200 4000 5000 5800');
    const [app] = new MessageDecoder().push(concat([hex(u64(withEmpty.length)), withEmpty]));
    expect(app!.entries).toEqual([newEntry({ term: 1, index: 2 })]);
    expect(app!.snapshot).toBeUndefined();
  });

  it('a heartbeat response with a context and a rejection with a hint', () => {
    const m = newMessage({
      type: MessageType.MsgHeartbeatResp,
      to: 1n,
      from: 2n,
      term: 3,
      context: b('ctx'),
    });
    expect(Buffer.from(encodeMessage(m)).toString('hex')).toBe(
      `0809 1001 1802 2003 2800 3000 4000 ${EMPTY_SNAPSHOT} 5000 5800 6203 637478`.replace(
        /\s/g,
        '',
      ),
    );
    const r = newMessage({ type: MessageType.MsgAppResp, reject: true, rejectHint: 300 });
    expect(Buffer.from(encodeMessage(r)).toString('hex')).toBe(
      `0804 1000 1800 2000 2800 3000 4000 ${EMPTY_SNAPSHOT} 5001 58ac02`.replace(/\s/g, ''),
    );
  });
});

describe('the message stream', () => {
  const msgs: Message[] = [
    newMessage({ type: MessageType.MsgVote, to: 2n, from: 1n, term: 4, logTerm: 3, index: 9 }),
    linkHeartbeatMessage(),
    newMessage({
      type: MessageType.MsgApp,
      to: 2n,
      from: 1n,
      term: 4,
      entries: [newEntry({ term: 4, index: 10, type: EntryType.EntryConfChange })],
    }),
  ];
  const bytes = concat(msgs.map(encodeFrame));

  it('decodes whatever the chunking', () => {
    for (const size of [1, 3, 8, 31, bytes.length]) {
      const dec = new MessageDecoder();
      const out = chunked(bytes, size).flatMap((c) => dec.push(c));
      expect(out).toEqual(msgs);
      expect(dec.buffered).toBe(0);
    }
    expect(isLinkHeartbeat(msgs[1]!)).toBe(true);
    expect(isLinkHeartbeat(msgs[0]!)).toBe(false);
  });

  it('refuses a frame over the limit as soon as its length is read', () => {
    const dec = new MessageDecoder(100);
    expect(() => dec.push(hex(u64(101)))).toThrow(ERR_EXCEED_SIZE_LIMIT);
    expect(() => new MessageDecoder().push(hex('ffffffffffffffff'))).toThrow(RaftHttpCodecError);
  });

  it('refuses a frame that is not a raft message', () => {
    // field 7 (entries) announces 100 bytes and has 2
    expect(() => new MessageDecoder().push(hex(`${u64(4)} 3a64 0000`))).toThrow(RaftHttpCodecError);
  });
});

describe('the msgappv2 stream', () => {
  const leader = 1n;
  const follower = 2n;
  const ent = (index: number, term = 2, data = `e${index}`): Entry =>
    newEntry({ index, term, data: b(data) });
  const app = (m: Partial<Message>) =>
    newMessage({ type: MessageType.MsgApp, from: leader, to: follower, ...m });

  const msgs: Message[] = [
    app({ term: 2, logTerm: 1, index: 2, entries: [ent(3)], commit: 2 }),
    app({ term: 2, logTerm: 2, index: 3, entries: [ent(4), ent(5)], commit: 3 }),
    linkHeartbeatMessage(),
    app({ term: 2, logTerm: 2, index: 5, entries: [], commit: 5 }),
    app({ term: 2, logTerm: 2, index: 5, entries: [ent(6, 2, 'x'.repeat(300))], commit: 5 }),
    // a probe after a rejection: does not continue the last index, so it travels whole
    app({ term: 2, logTerm: 1, index: 2, entries: [ent(3)], commit: 6 }),
    app({ term: 3, logTerm: 2, index: 3, entries: [], commit: 6 }),
  ];

  it('sends a continuing MsgApp as its entries and commit only', () => {
    const enc = new MsgAppV2Encoder();
    const kinds = msgs.map((m) => enc.encode(m)[0]);
    expect(kinds).toEqual([2, 1, 0, 1, 1, 2, 2]);

    const enc2 = new MsgAppV2Encoder();
    enc2.encode(msgs[0]!);
    const e4 = '0800 1002 1804 2202 6534';
    const e5 = '0800 1002 1805 2202 6535';
    expect(Buffer.from(enc2.encode(msgs[1]!)).toString('hex')).toBe(
      `01 ${u64(2)} ${u64(10)} ${e4} ${u64(10)} ${e5} ${u64(3)}`.replace(/\s/g, ''),
    );
    expect(Buffer.from(enc2.encode(linkHeartbeatMessage())).toString('hex')).toBe('00');
  });

  it('decodes several MsgApps and heartbeats in a row, whatever the chunking', () => {
    const enc = new MsgAppV2Encoder();
    const bytes = concat(msgs.map((m) => enc.encode(m)));
    for (const size of [1, 2, 9, 64, bytes.length]) {
      const dec = new MsgAppV2Decoder(follower, leader);
      const out = chunked(bytes, size).flatMap((c) => dec.push(c));
      expect(out).toEqual(msgs);
    }
  });

  it('refuses an unknown record kind and oversized records', () => {
    expect(() => new MsgAppV2Decoder(2n, 1n).push(Uint8Array.of(7))).toThrow(
      'failed to parse type 7 in msgappv2 stream',
    );
    expect(() => new MsgAppV2Decoder(2n, 1n, 1000).push(hex(`02 ${u64(1001)}`))).toThrow(
      ERR_EXCEED_SIZE_LIMIT,
    );
    // entries whose lengths add up past the limit, before their bytes arrive
    expect(() =>
      new MsgAppV2Decoder(2n, 1n, 1000).push(hex(`01 ${u64(2)} ${u64(600)}`)),
    ).not.toThrow();
    const dec = new MsgAppV2Decoder(2n, 1n, 1000);
    dec.push(hex(`01 ${u64(2)} ${u64(500)}`));
    dec.push(new Uint8Array(500).fill(0));
    expect(() => dec.push(hex(u64(500)))).toThrow(RaftHttpCodecError);
  });
});

describe('ByteQueue', () => {
  it('reads across chunks and hands the rest on', () => {
    const q = new ByteQueue();
    q.push(hex('0102'));
    q.push(hex('030405'));
    q.push(hex('06'));
    expect(Buffer.from(q.take(1)).toString('hex')).toBe('01');
    expect(Buffer.from(q.take(3)).toString('hex')).toBe('020304');
    expect(q.drain().map((c) => Buffer.from(c).toString('hex'))).toEqual(['05', '06']);
    expect(q.length).toBe(0);
  });
});
