import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { decodeSnapshot, encodeSnapshot, isEmptySnapshot, type Snapshot } from '@etcd-ts/raft';
import { crc32cUpdate } from '../crc.js';
import { ErrEmptySnapshot, ErrNoSnapshot, ErrSnapCRCMismatch, SnapError } from '../errors.js';
import { fsyncDir } from '../fsutil.js';
import { hex16 } from '../names.js';
import type { WalSnapshot } from '../record.js';
import { readVarint, varintSize, writeVarint } from '../record.js';

const SNAP_SUFFIX = '.snap';
const SNAP_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

/** `%016x-%016x.snap`: the snapshot's term and index. */
export function snapName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}${SNAP_SUFFIX}`;
}

/**
 * Saves and loads raft snapshots as files of the snap directory, in etcd's format: a
 * snappb.Snapshot {crc = 1 (uint32), data = 2 (bytes)} whose data is the encoded
 * raftpb.Snapshot and whose crc is its CRC-32C. A file is written to a temporary name,
 * fsynced and renamed, so a crash leaves either the old set of snapshots or the new one.
 */
export class Snapshotter {
  constructor(readonly dir: string) {}

  /** Writes the snapshot (nothing for an empty one). */
  async saveSnap(snapshot: Snapshot): Promise<void> {
    if (isEmptySnapshot(snapshot)) return;
    const data = encodeSnapshot(snapshot);
    const crc = crc32cUpdate(0, data);
    const file = new Uint8Array(1 + varintSize(crc) + 1 + varintSize(data.length) + data.length);
    let p = 0;
    file[p++] = 0x08;
    p = writeVarint(file, p, crc);
    file[p++] = 0x12;
    p = writeVarint(file, p, data.length);
    file.set(data, p);

    const name = snapName(snapshot.metadata.term, snapshot.metadata.index);
    await writeDurably(join(this.dir, name), file);
  }

  /**
   * The newest snapshot that loads. Files that fail to load (bad CRC, truncated, empty)
   * are renamed `*.broken` so they are not tried again. ErrNoSnapshot when none loads.
   */
  async load(): Promise<Snapshot> {
    return this.loadMatching(() => true);
  }

  /**
   * The newest snapshot that loads and matches one of `walSnaps` (the WAL's snapshot
   * markers whose index is committed): a snapshot the WAL does not know about cannot be
   * used to replay it.
   */
  async loadNewestAvailable(walSnaps: readonly WalSnapshot[]): Promise<Snapshot> {
    return this.loadMatching((term, index) =>
      walSnaps.some((w) => w.term === term && w.index === index),
    );
  }

  /** Snapshot file names, newest first. */
  async snapNames(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await fsp.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries.filter((e) => SNAP_NAME.test(e)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }

  /** Reads and checks one snapshot file. */
  async read(name: string): Promise<Snapshot> {
    const bytes = await fsp.readFile(join(this.dir, name));
    return decodeSnapFile(name, bytes);
  }

  /** Removes all but the newest `keep` snapshots. Returns the names removed. */
  async purge(keep: number): Promise<string[]> {
    if (!(keep >= 1)) throw new RangeError('snap: keep at least one snapshot');
    const names = await this.snapNames();
    const doomed = names.slice(keep);
    for (const name of doomed) await fsp.rm(join(this.dir, name), { force: true });
    if (doomed.length > 0) await fsyncDir(this.dir);
    return doomed;
  }

  /** Path of the backend database file received with snapshot `id` (`%016x.snap.db`). */
  dbFilePath(id: number): string {
    return join(this.dir, `${hex16(id)}.snap.db`);
  }

  /** Streams a received backend database to `%016x.snap.db` durably; returns its size. */
  async saveDBFrom(source: Readable, id: number): Promise<number> {
    const path = this.dbFilePath(id);
    const tmp = `${path}.tmp`;
    const handle = await fsp.open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
      0o600,
    );
    let size = 0;
    try {
      for await (const chunk of source) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await handle.write(
            bytes,
            done,
            bytes.length - done,
            size + done,
          );
          done += bytesWritten;
        }
        size += bytes.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, path);
    await fsyncDir(this.dir);
    return size;
  }

  private async loadMatching(accept: (term: number, index: number) => boolean): Promise<Snapshot> {
    for (const name of await this.snapNames()) {
      const m = SNAP_NAME.exec(name)!;
      if (!accept(Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16))) continue;
      try {
        return await this.read(name);
      } catch (err) {
        if (!(err instanceof SnapError)) throw err;
        await fsp.rename(join(this.dir, name), join(this.dir, `${name}.broken`));
      }
    }
    throw new ErrNoSnapshot();
  }
}

/** Decodes a snapshot file's bytes, checking its CRC. */
export function decodeSnapFile(name: string, bytes: Uint8Array): Snapshot {
  if (bytes.length === 0) throw new ErrEmptySnapshot();
  let crc: number | undefined;
  let data: Uint8Array | undefined;
  try {
    let p = 0;
    while (p < bytes.length) {
      let tag: number;
      [tag, p] = readVarint(bytes, p, bytes.length);
      if (tag === 0x08) [crc, p] = readVarint(bytes, p, bytes.length);
      else if (tag === 0x12) {
        let len: number;
        [len, p] = readVarint(bytes, p, bytes.length);
        if (p + len > bytes.length) throw new SnapError(`snap: ${name} is truncated`);
        data = bytes.subarray(p, p + len);
        p += len;
      } else throw new SnapError(`snap: ${name} has an unexpected field ${tag}`);
    }
  } catch (err) {
    if (err instanceof SnapError) throw err;
    throw new SnapError(`snap: ${name} is not a snapshot file: ${(err as Error).message}`);
  }
  if (data === undefined || crc === undefined) throw new ErrEmptySnapshot();
  if (crc32cUpdate(0, data) !== crc) throw new ErrSnapCRCMismatch(name);
  try {
    return decodeSnapshot(data);
  } catch (err) {
    throw new SnapError(`snap: ${name} holds no raft snapshot: ${(err as Error).message}`);
  }
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await fsp.open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
    0o600,
  );
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, path);
  await fsyncDir(join(path, '..'));
}
