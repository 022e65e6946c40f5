import { describe, expect, it } from 'vitest';
import {
  decodeConfChange,
  decodeConfChangeV2,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeConfChangeV2,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
  entrySize,
  messageSize,
} from './codec.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  newEntry,
  newMessage,
  newSnapshot,
} from './raftpb.js';

const hex = (s: string) =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => Number.parseInt(b, 16)),
  );
const bytes = (s: string) => new TextEncoder().encode(s);

// Reference bytes follow etcd's gogo-generated MarshalTo in raftpb/raft.pb.go:
// fields in field-number order, non-nullable scalars always written, nil bytes omitted.
describe('codec: byte-exact etcd encodings', () => {
  it('Entry', () => {
    const e = newEntry({ term: 1, index: 2, data: bytes('hello') });
    const want = hex('08 00 10 01 18 02 22 05 68 65 6c 6c 6f');
    expect(encodeEntry(e)).toEqual(want);
    expect(entrySize(e)).toBe(want.length);
    expect(decodeEntry(want)).toEqual(e);
  });

  it('Entry with multi-byte varints and no data', () => {
    const e = newEntry({ term: 300, index: 2 ** 40, type: EntryType.EntryConfChangeV2 });
    const want = hex('08 02 10 ac 02 18 80 80 80 80 80 20');
    expect(encodeEntry(e)).toEqual(want);
    expect(decodeEntry(want)).toEqual(e);
  });

  it('HardState, including a vote that uses all 64 bits', () => {
    expect(encodeHardState({ term: 1, vote: 2n, commit: 3 })).toEqual(hex('08 01 10 02 18 03'));
    expect(encodeHardState({ term: 0, vote: 0n, commit: 0 })).toEqual(hex('08 00 10 00 18 00'));
    const big = { term: 7, vote: 0xffffffffffffffffn, commit: 2 ** 53 - 1 };
    const enc = encodeHardState(big);
    expect(enc).toEqual(hex('08 07 10 ff ff ff ff ff ff ff ff ff 01 18 ff ff ff ff ff ff ff 0f'));
    expect(decodeHardState(enc)).toEqual(big);
  });

  it('Message (MsgApp) always carries the empty snapshot, reject and rejectHint', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      to: 2n,
      from: 1n,
      term: 5,
      logTerm: 4,
      index: 10,
      entries: [newEntry({ term: 5, index: 11, data: bytes('x') })],
      commit: 9,
    });
    const want = hex(
      '08 03 10 02 18 01 20 05 28 04 30 0a 3a 09 08 00 10 05 18 0b 22 01 78 40 09 4a 0a 12 08 0a 02 28 00 10 00 18 00 50 00 58 00',
    );
    expect(encodeMessage(m)).toEqual(want);
    expect(messageSize(m)).toBe(want.length);
    expect(decodeMessage(want)).toEqual(m);
  });

  it('Message with reject, hint, context and a snapshot', () => {
    const snap = newSnapshot({
      data: bytes('d'),
      metadata: { index: 10, term: 2, confState: { voters: [1n, 2n], learners: [3n] } },
    });
    const m = newMessage({
      type: MessageType.MsgSnap,
      to: 0x8000000000000001n,
      from: 1n,
      term: 3,
      snapshot: snap,
      reject: true,
      rejectHint: 129,
      context: bytes('c'),
    });
    const enc = encodeMessage(m);
    expect(messageSize(m)).toBe(enc.length);
    expect(decodeMessage(enc)).toEqual(m);
  });

  it('Snapshot', () => {
    const s = newSnapshot({
      data: bytes('d'),
      metadata: { index: 10, term: 2, confState: { voters: [1n, 2n], learners: [3n] } },
    });
    const want = hex('0a 01 64 12 0e 0a 08 08 01 08 02 10 03 28 00 10 0a 18 02');
    expect(encodeSnapshot(s)).toEqual(want);
    expect(decodeSnapshot(want)).toEqual(s);
  });

  it('ConfState accepts the packed form of repeated ids as well', () => {
    // voters packed: field 1, wire type 2, [1, 2]
    const s = decodeSnapshot(hex('12 0a 0a 04 0a 02 01 02 10 05 18 01'));
    expect(s.metadata.confState.voters).toEqual([1n, 2n]);
    expect(s.metadata.index).toBe(5);
  });

  it('ConfChange', () => {
    const cc = {
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 3n,
      context: bytes('ctx'),
      id: 0n,
    };
    const want = hex('08 00 10 00 18 03 22 03 63 74 78');
    expect(encodeConfChange(cc)).toEqual(want);
    expect(decodeConfChange(want)).toEqual(cc);
  });

  it('ConfChangeV2', () => {
    const cc = {
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 2n },
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3n },
      ],
      context: new Uint8Array(0),
    };
    const want = hex('08 02 12 04 08 00 10 02 12 04 08 03 10 03');
    expect(encodeConfChangeV2(cc)).toEqual(want);
    expect(decodeConfChangeV2(want)).toEqual(cc);
  });

  it('skips unknown fields', () => {
    // Entry with an unknown field 15 (varint) and 14 (length-delimited) in the middle.
    const e = decodeEntry(hex('08 00 78 05 72 02 aa bb 10 01 18 02'));
    expect(e).toEqual(newEntry({ term: 1, index: 2 }));
  });

  it('rejects truncated input', () => {
    expect(() => decodeEntry(hex('08 00 10 01 18 02 22 05 68'))).toThrow(/unexpected EOF/);
  });

  it('encoded buffers never overlap (they are carved from shared slabs)', () => {
    const ents = Array.from({ length: 2000 }, (_, i) =>
      newEntry({ term: i, index: i + 1, data: new Uint8Array(i % 300).fill(i & 255) }),
    );
    const encoded = ents.map(encodeEntry);
    let bad = 0;
    ents.forEach((e, i) => {
      const d = decodeEntry(encoded[i]!);
      if (d.term !== e.term || d.index !== e.index || Buffer.compare(d.data, e.data) !== 0) bad++;
    });
    expect(bad).toBe(0);
    const big = newEntry({ term: 1, index: 1, data: new Uint8Array(10_000).fill(9) });
    expect(decodeEntry(encodeEntry(big))).toEqual(big);
  });

  it('round-trips random messages', () => {
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    for (let i = 0; i < 500; i++) {
      const ents = Array.from({ length: rnd(4) }, () =>
        newEntry({
          term: rnd(2 ** 30) * 2 ** rnd(20),
          index: rnd(2 ** 31),
          type: rnd(3) as EntryType,
          data: Uint8Array.from({ length: rnd(200) }, () => rnd(256)),
        }),
      );
      const m = newMessage({
        type: rnd(19) as MessageType,
        to: BigInt(rnd(2 ** 31)) << BigInt(rnd(33)),
        from: BigInt(rnd(1000)),
        term: rnd(2 ** 31),
        logTerm: rnd(100),
        index: rnd(2 ** 31) * 1000,
        entries: ents,
        commit: rnd(2 ** 31),
        reject: rnd(2) === 1,
        rejectHint: rnd(2 ** 20),
      });
      const enc = encodeMessage(m);
      expect(enc.length).toBe(messageSize(m));
      expect(decodeMessage(enc)).toEqual(m);
      expect(encodeMessage(decodeMessage(enc))).toEqual(enc);
    }
  });
});
