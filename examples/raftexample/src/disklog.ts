// The example's persistence: one append-only file of checksummed records
// (hard state, entries, snapshots), fsynced when raft says it must be, and
// rewritten from the in-memory state when the log is compacted. Reading it
// back rebuilds a MemoryStorage that raft restarts from. A torn record at the
// tail (a crash mid-write) is cut off.

import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  type Entry,
  ErrSnapOutOfDate,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  type HardState,
  MemoryStorage,
  NO_LIMIT,
  type Snapshot,
} from '@etcd-ts/raft';

const HARD_STATE = 1;
const ENTRY = 2;
const SNAPSHOT = 3;
const HEADER = 9; // u32 payload length, u32 crc32(type + payload), u8 type

function record(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER + payload.length);
  b.writeUInt32BE(payload.length, 0);
  b[8] = type;
  b.set(payload, HEADER);
  b.writeUInt32BE(crc32(b.subarray(8)), 4);
  return b;
}

export class DiskLog {
  private fd: number;

  private constructor(
    private readonly dir: string,
    readonly storage: MemoryStorage,
  ) {
    this.fd = openSync(join(dir, 'raft.log'), 'a');
  }

  /** Opens (or creates) the log in dir and replays it into a MemoryStorage. */
  static open(dir: string): DiskLog {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'raft.log');
    const storage = new MemoryStorage();
    if (existsSync(path)) {
      const buf = readFileSync(path);
      let off = 0;
      while (off + HEADER <= buf.length) {
        const len = buf.readUInt32BE(off);
        const end = off + HEADER + len;
        if (end > buf.length || crc32(buf.subarray(off + 8, end)) !== buf.readUInt32BE(off + 4))
          break;
        const payload = buf.subarray(off + HEADER, end);
        const type = buf[off + 8];
        if (type === HARD_STATE) storage.setHardState(decodeHardState(payload));
        else if (type === ENTRY) storage.append([copyEntry(decodeEntry(payload))]);
        else if (type === SNAPSHOT) {
          try {
            storage.applySnapshot(decodeSnapshot(Buffer.from(payload)));
          } catch (err) {
            if (!(err instanceof ErrSnapOutOfDate)) throw err;
          }
        }
        off = end;
      }
      if (off < buf.length) {
        // A torn tail: keep only the complete records.
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
    }
    return new DiskLog(dir, storage);
  }

  /** Appends what a Ready asks to persist (and updates the MemoryStorage); fsyncs if sync. */
  save(
    hs: HardState | undefined,
    entries: Entry[],
    snap: Snapshot | undefined,
    sync: boolean,
  ): void {
    const parts: Buffer[] = [];
    if (snap !== undefined) {
      parts.push(record(SNAPSHOT, encodeSnapshot(snap)));
      try {
        this.storage.applySnapshot(snap);
      } catch (err) {
        if (!(err instanceof ErrSnapOutOfDate)) throw err;
      }
    }
    for (const e of entries) parts.push(record(ENTRY, encodeEntry(e)));
    if (hs !== undefined) parts.push(record(HARD_STATE, encodeHardState(hs)));
    if (parts.length > 0) {
      writeSync(this.fd, Buffer.concat(parts));
      // A received snapshot must be durable before it is acknowledged, even
      // when the Ready does not otherwise require a sync.
      if (sync || snap !== undefined) fsyncSync(this.fd);
    }
    this.storage.append(entries);
    if (hs !== undefined) this.storage.setHardState(hs);
  }

  /**
   * Rewrites the file as: the latest snapshot, the entries after it, the hard
   * state. Call after storage.createSnapshot/compact. Atomic (rename).
   */
  rewrite(): void {
    const s = this.storage;
    const parts: Buffer[] = [record(SNAPSHOT, encodeSnapshot(s.snapshot()))];
    if (s.lastIndex() >= s.firstIndex()) {
      for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1, NO_LIMIT))
        parts.push(record(ENTRY, encodeEntry(e)));
    }
    parts.push(record(HARD_STATE, encodeHardState(s.initialState().hardState)));
    const tmp = join(this.dir, 'raft.log.tmp');
    const fd = openSync(tmp, 'w');
    writeSync(fd, Buffer.concat(parts));
    fsyncSync(fd);
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, join(this.dir, 'raft.log'));
    const dfd = openSync(this.dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
    this.fd = openSync(join(this.dir, 'raft.log'), 'a');
  }

  close(): void {
    closeSync(this.fd);
  }
}

// Decoded entries are views into the file buffer: copy what we keep.
function copyEntry(e: Entry): Entry {
  return { ...e, data: Uint8Array.from(e.data) };
}
