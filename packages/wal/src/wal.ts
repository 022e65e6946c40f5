import { constants, existsSync, promises as fsp, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeEntry,
  decodeHardState,
  type Entry,
  encodeHardState,
  type HardState,
  isEmptyHardState,
} from '@etcd-ts/raft';
import {
  ErrClosed,
  ErrCorrupt,
  ErrFileNotFound,
  ErrMetadataConflict,
  ErrSliceOutOfRange,
  ErrSnapshotMismatch,
  ErrSnapshotNotFound,
  WalError,
} from './errors.js';
import { FilePipeline } from './file_pipeline.js';
import { FrameEncoder } from './frame.js';
import { fsyncDir, fsyncParent, openLocked, preallocate } from './fsutil.js';
import { isValidSequence, searchIndex, type WalFileName, walName, walNames } from './names.js';
import {
  decodeWalSnapshot,
  encodeWalSnapshot,
  RecordType,
  recordTypeName,
  type WalSnapshot,
} from './record.js';
import { scanSegment, type TornTail } from './scan.js';

/** Segments are cut once they pass this size (etcd's SegmentSizeBytes). */
export const SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;

export interface WalOptions {
  /** Preallocated size of a segment and the size at which the WAL cuts to a new one. */
  segmentSizeBytes?: number;
  /**
   * Skip every fsync (etcd's --unsafe-no-fsync). Acknowledged writes can then be lost on a
   * machine crash; for benchmarks and tests only.
   */
  unsafeNoFsync?: boolean;
}

export interface ReadAllResult {
  /** The metadata the WAL was created with. */
  metadata: Uint8Array;
  /** The last HardState saved (all zero if none). */
  state: HardState;
  /** The entries after the snapshot the WAL was opened at, conflicting tails replaced. */
  entries: Entry[];
}

/** A segment the WAL has open and locked. */
interface Segment extends WalFileName {
  path: string;
  handle: fsp.FileHandle;
}

const EMPTY_STATE: HardState = { term: 0, vote: 0n, commit: 0 };
const EMPTY = new Uint8Array(0);

interface ReadAccumulator {
  entries: Entry[];
  state: HardState;
  metadata: Uint8Array | undefined;
  match: boolean;
}

/**
 * The write-ahead log: what makes an acknowledged raft write survive a crash.
 *
 * Lifecycle, as etcd's: `WAL.create` makes a new log; `WAL.open(dir, snapshot)` opens an
 * existing one at a snapshot and `readAll()` must then be called once, returning what was
 * saved after the snapshot and positioning the WAL to append. `save` appends entries and
 * the HardState with one write and at most one fdatasync. Calls are queued: each runs
 * after the previous one finished.
 */
export class WAL {
  private readonly segmentSize: number;
  private readonly noFsync: boolean;
  private segments: Segment[] = [];
  private encoder: FrameEncoder | undefined;
  /** Write offset in the tail segment. */
  private offset = 0;
  /** Index of the last entry saved (or of the snapshot saved, if later). */
  private enti = 0;
  private state: HardState = EMPTY_STATE;
  private metadata: Uint8Array = new Uint8Array(0);
  private start: WalSnapshot = { index: 0, term: 0 };
  private pipeline: FilePipeline | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private failed: unknown;
  private readDone = false;
  private torn: TornTail | undefined;

  private constructor(
    readonly dir: string,
    private readonly writable: boolean,
    options: WalOptions,
  ) {
    this.segmentSize = options.segmentSizeBytes ?? SEGMENT_SIZE_BYTES;
    this.noFsync = options.unsafeNoFsync ?? false;
    if (!(this.segmentSize >= 4096)) throw new RangeError('wal: segmentSizeBytes must be >= 4096');
  }

  /**
   * Creates a WAL in `dir` (which must not exist): the first segment holds a CRC record,
   * the metadata and an empty snapshot marker. Built in `dir.tmp` and renamed into place,
   * so a crash never leaves a half-created WAL behind.
   */
  static async create(dir: string, metadata: Uint8Array, options: WalOptions = {}): Promise<WAL> {
    if (await dirHasWal(dir)) throw new WalError(`wal: ${dir} already holds a WAL`);
    const tmp = `${dir.replace(/\/+$/, '')}.tmp`;
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });

    const w = new WAL(dir, true, options);
    const name = walName(0, 0);
    const handle = await openLocked(
      join(tmp, name),
      constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
    );
    await preallocate(handle, w.segmentSize);
    w.segments.push({ name, seq: 0, index: 0, path: join(dir, name), handle });
    w.encoder = new FrameEncoder(0);
    w.metadata = metadata;
    w.encoder.appendCrcRecord();
    w.encoder.appendRecord(RecordType.metadata, metadata);
    w.encoder.appendRecord(RecordType.snapshot, encodeWalSnapshot({ index: 0, term: 0 }));
    await w.flush(true);

    // Replace an empty directory left by the caller; a WAL directory was refused above.
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(tmp, dir);
    await fsyncParent(dir);
    w.readDone = true;
    w.pipeline = new FilePipeline(dir, w.segmentSize);
    return w;
  }

  /**
   * Opens the WAL at `snapshot` for appending: locks the segments from the one holding the
   * snapshot's index onward. Call readAll() next.
   */
  static async open(dir: string, snapshot: WalSnapshot, options: WalOptions = {}): Promise<WAL> {
    return WAL.openAt(dir, snapshot, true, options);
  }

  /** Opens the WAL at `snapshot` read-only: no locks, no repair, no appends. */
  static async openForRead(
    dir: string,
    snapshot: WalSnapshot,
    options: WalOptions = {},
  ): Promise<WAL> {
    return WAL.openAt(dir, snapshot, false, options);
  }

  private static async openAt(
    dir: string,
    snapshot: WalSnapshot,
    writable: boolean,
    options: WalOptions,
  ): Promise<WAL> {
    const names = await listWal(dir);
    const at = searchIndex(names, snapshot.index);
    if (at < 0 || !isValidSequence(names.slice(at))) throw new ErrFileNotFound(dir);
    const w = new WAL(dir, writable, options);
    w.start = { index: snapshot.index, term: snapshot.term };
    try {
      for (const n of names.slice(at)) {
        const path = join(dir, n.name);
        const handle = writable
          ? await openLocked(path, constants.O_RDWR)
          : await fsp.open(path, constants.O_RDONLY);
        w.segments.push({ ...n, path, handle });
      }
    } catch (err) {
      await w.closeHandles();
      throw err;
    }
    return w;
  }

  /**
   * Reads every record from the snapshot on: the metadata, the last HardState and the
   * entries after the snapshot (a later entry at an index replaces the earlier one and
   * everything after it: a new leader's log replaces an old tail).
   *
   * A torn write at the end of the last segment (a record cut short by a crash, followed
   * by nothing but zeros or the end of the file) is truncated away and the WAL opens; see
   * `tornTail`. Damage followed by valid records is corruption: ErrCorrupt, naming the file
   * and offset. In write mode the WAL is then positioned to append after the last record.
   */
  async readAll(): Promise<ReadAllResult> {
    return this.enqueue(async () => {
      this.checkOpen();
      if (this.readDone) throw new WalError('wal: readAll may be called once, after open');
      const result = await this.decodeAll();
      this.readDone = true;
      return result;
    });
  }

  /** The torn tail readAll repaired, if any. */
  get tornTail(): TornTail | undefined {
    return this.torn;
  }

  /** Index of the last entry (or snapshot marker) in the log. */
  get lastIndex(): number {
    return this.enti;
  }

  /**
   * Appends `entries` and then `state` (skipped when empty) with one write, and fsyncs
   * (fdatasync) once when it must: when there are entries or the term or vote changed
   * (a commit-only HardState can be recovered from the log and need not wait for disk).
   * Cuts to a new segment when the tail passes the segment size.
   */
  async save(state: HardState, entries: readonly Entry[]): Promise<void> {
    return this.enqueue(async () => {
      this.checkWritable();
      const emptyState = isEmptyHardState(state);
      if (emptyState && entries.length === 0) return;
      const mustSync =
        entries.length > 0 || state.vote !== this.state.vote || state.term !== this.state.term;
      const encoder = this.encoder!;
      for (const e of entries) {
        encoder.appendEntry(e);
        this.enti = e.index;
      }
      if (!emptyState) {
        encoder.appendRecord(RecordType.state, encodeHardState(state));
        this.state = { ...state };
      }
      await this.flush(mustSync && this.offset + encoder.pending < this.segmentSize);
      if (this.offset >= this.segmentSize) await this.cut();
    });
  }

  /** Appends a snapshot marker (the log may be read from this point on) and fsyncs. */
  async saveSnapshot(snapshot: WalSnapshot): Promise<void> {
    return this.enqueue(async () => {
      this.checkWritable();
      this.encoder!.appendRecord(RecordType.snapshot, encodeWalSnapshot(snapshot));
      if (this.enti < snapshot.index) this.enti = snapshot.index;
      await this.flush(true);
      if (this.offset >= this.segmentSize) await this.cut();
    });
  }

  /** fsyncs the tail segment. */
  async sync(): Promise<void> {
    return this.enqueue(async () => {
      this.checkWritable();
      if (!this.noFsync) await this.tail().handle.datasync();
    });
  }

  /**
   * Releases the locks on the segments that hold only entries before `index` (keeping the
   * segment that holds `index`), so that a purge may delete them.
   */
  releaseLockTo(index: number): Promise<void> {
    return this.enqueue(async () => {
      let smaller = this.segments.length - 1;
      for (let i = 0; i < this.segments.length; i++) {
        if (this.segments[i]!.index >= index) {
          smaller = i - 1;
          break;
        }
      }
      if (smaller <= 0) return;
      const released = this.segments.splice(0, smaller);
      for (const s of released) await s.handle.close();
    });
  }

  /** Names of the segments this WAL holds locked, oldest first. */
  lockedSegments(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Closes the WAL: the tail is fsynced, the segments unlocked and the prepared next
   * segment removed. Waits for queued calls first.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => {});
    this.closed = true;
    await this.pipeline?.close();
    const durable = this.writable && !this.noFsync && this.failed === undefined && this.readDone;
    if (durable && this.segments.length > 0) {
      await this.tail().handle.datasync();
    }
    await this.closeHandles();
  }

  // ---- internals ----

  private tail(): Segment {
    const t = this.segments.at(-1);
    if (t === undefined) throw new WalError('wal: no segment open');
    return t;
  }

  private checkOpen(): void {
    if (this.closed) throw new ErrClosed();
    if (this.failed !== undefined) {
      throw new WalError(
        `wal: a previous write failed, the WAL must be reopened: ${String(this.failed)}`,
      );
    }
  }

  private checkWritable(): void {
    this.checkOpen();
    if (!this.writable) throw new WalError('wal: opened read-only');
    if (!this.readDone) throw new WalError('wal: readAll must be called before writing');
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Writes what the encoder holds at the tail's offset; fdatasyncs when asked. */
  private async flush(sync: boolean): Promise<void> {
    const encoder = this.encoder!;
    const bytes = encoder.take();
    const tail = this.tail();
    try {
      // The write itself only copies into the page cache, so it is done synchronously:
      // a thread-pool round trip would cost more than the copy. The fdatasync, which waits
      // for the disk, stays asynchronous.
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(
          tail.handle.fd,
          bytes,
          written,
          bytes.length - written,
          this.offset + written,
        );
      }
      this.offset += bytes.length;
      if (sync && !this.noFsync) await tail.handle.datasync();
    } catch (err) {
      // What reached the file is unknown: refuse further writes rather than guess.
      this.failed = err;
      throw err;
    }
  }

  /**
   * Closes the tail at its written size and continues in a new segment named after the
   * next entry's index. The new segment starts with the CRC chain, the metadata and the
   * current HardState, so it can be read on its own.
   */
  private async cut(): Promise<void> {
    const old = this.tail();
    await old.handle.truncate(this.offset);
    if (!this.noFsync) await old.handle.datasync();

    const seq = old.seq + 1;
    const index = this.enti + 1;
    const name = walName(seq, index);
    const path = join(this.dir, name);
    const prepared = await this.pipeline!.take();
    this.segments.push({ name, seq, index, path, handle: prepared.handle });
    this.offset = 0;
    const encoder = this.encoder!;
    encoder.appendCrcRecord();
    encoder.appendRecord(RecordType.metadata, this.metadata);
    encoder.appendRecord(RecordType.state, encodeHardState(this.state));
    await this.flush(true);
    await fsp.rename(prepared.path, path);
    if (!this.noFsync) await fsyncDir(this.dir);
  }

  private async decodeAll(): Promise<ReadAllResult> {
    const acc: ReadAccumulator = {
      entries: [],
      state: EMPTY_STATE,
      metadata: undefined,
      match: false,
    };
    let crc = 0;
    let lastOffset = 0;

    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const buf = await readWhole(seg.handle);
      const isLast = i === this.segments.length - 1;
      const scan = scanSegment(buf, seg.path, crc, isLast, (type, data) =>
        this.applyRecord(type, data, acc),
      );
      crc = scan.crc;
      lastOffset = scan.end;
      this.torn = scan.torn;
    }
    if (!acc.match) throw new ErrSnapshotNotFound();
    // Raft never commits past its last entry, and a HardState is written after the entries
    // of the same save: a commit beyond the log means records vanished (a damaged record
    // type can make an entry read as something else without failing its CRC).
    const lastIndex = acc.entries.at(-1)?.index ?? this.start.index;
    if (acc.state.commit > Math.max(lastIndex, this.start.index) && acc.entries.length > 0) {
      const last = this.segments.at(-1)!;
      throw new ErrCorrupt(
        last.path,
        lastOffset,
        `hard state commit ${acc.state.commit} is beyond the last entry ${lastIndex}`,
      );
    }

    if (this.writable) {
      const tail = this.tail();
      const { size } = await tail.handle.stat();
      if (this.torn !== undefined) {
        // Zero the torn bytes (keeping the preallocated size) and make that durable before
        // anything new is appended after them.
        await tail.handle.truncate(lastOffset);
        await tail.handle.truncate(Math.max(size, this.segmentSize));
        await tail.handle.datasync();
      } else if (size < this.segmentSize) {
        await preallocate(tail.handle, this.segmentSize);
      }
      this.offset = lastOffset;
      this.encoder = new FrameEncoder(crc);
      this.pipeline = new FilePipeline(this.dir, this.segmentSize);
    }
    this.metadata = acc.metadata ?? EMPTY;
    this.state = acc.state;
    this.start = { index: 0, term: 0 };
    return { metadata: this.metadata, state: acc.state, entries: acc.entries };
  }

  /**
   * Applies one CRC-checked record to what readAll accumulates. Returns a description of
   * the damage when the record's payload does not decode; throws the WAL's semantic errors.
   */
  private applyRecord(type: number, data: Uint8Array, acc: ReadAccumulator): string | undefined {
    try {
      switch (type) {
        case RecordType.entry: {
          const e = decodeEntry(data);
          // Copy the data out of the segment buffer so that buffer can be freed.
          if (e.data.length > 0) e.data = new Uint8Array(e.data);
          if (e.index > this.start.index) {
            const up = e.index - this.start.index - 1;
            // A gap means a record in between vanished.
            if (up > acc.entries.length) throw new ErrSliceOutOfRange();
            acc.entries.length = up;
            acc.entries.push(e);
          }
          this.enti = e.index;
          return undefined;
        }
        case RecordType.state:
          acc.state = decodeHardState(data);
          return undefined;
        case RecordType.metadata:
          if (acc.metadata !== undefined && Buffer.compare(acc.metadata, data) !== 0) {
            throw new ErrMetadataConflict();
          }
          acc.metadata = new Uint8Array(data);
          return undefined;
        case RecordType.snapshot: {
          const s = decodeWalSnapshot(data);
          if (s.index === this.start.index) {
            if (s.term !== this.start.term) throw new ErrSnapshotMismatch();
            acc.match = true;
          }
          if (this.enti < s.index) this.enti = s.index;
          return undefined;
        }
        default:
          return `unknown record type ${type}`;
      }
    } catch (err) {
      if (err instanceof WalError) throw err;
      return `undecodable ${recordTypeName(type)} record: ${(err as Error).message}`;
    }
  }

  private async closeHandles(): Promise<void> {
    const segments = this.segments;
    this.segments = [];
    for (const s of segments) await s.handle.close().catch(() => {});
  }
}

/** The WAL segments in `dir`, sorted by sequence. */
export async function listWal(dir: string): Promise<WalFileName[]> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ErrFileNotFound(dir);
    throw err;
  }
  const names = walNames(entries);
  if (names.length === 0) throw new ErrFileNotFound(dir);
  return names;
}

/** Whether `dir` holds any WAL segment (etcd's wal.Exist). */
export async function walExists(dir: string): Promise<boolean> {
  return dirHasWal(dir);
}

async function dirHasWal(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return false;
  const entries = await fsp.readdir(dir);
  return walNames(entries).length > 0;
}

/** Reads a whole file through its handle. */
export async function readWhole(handle: fsp.FileHandle): Promise<Buffer> {
  const { size } = await handle.stat();
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await handle.read(buf, got, size - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === size ? buf : buf.subarray(0, got);
}
