import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { decodeHardState, type HardState } from '@etcd-ts/raft';
import { fsyncDir, isLocked } from './fsutil.js';
import { decodeWalSnapshot, RecordType, type WalSnapshot } from './record.js';
import { type RecordVisitor, scanSegment, type TornTail } from './scan.js';
import { listWal, readWhole, WAL, type WalOptions } from './wal.js';

export interface VerifyResult {
  /** The last HardState in the log. */
  state: HardState;
  /** Number of entries readAll would return. */
  entries: number;
  /** A torn write at the end of the log that open would repair. */
  tornTail: TornTail | undefined;
}

/**
 * Checks the WAL from `snapshot` on without changing anything: the CRC chain across every
 * record and segment, the metadata, and that the snapshot marker is there with the right
 * term. Throws what open + readAll would throw (ErrCorrupt, ErrSnapshotMismatch, ...).
 */
export async function verify(
  dir: string,
  snapshot: WalSnapshot = { index: 0, term: 0 },
  options: WalOptions = {},
): Promise<VerifyResult> {
  const w = await WAL.openForRead(dir, snapshot, options);
  try {
    const { state, entries } = await w.readAll();
    return { state, entries: entries.length, tornTail: w.tornTail };
  } finally {
    await w.close();
  }
}

/**
 * Visits every good record of every segment in `dir` in order, checking the CRC chain;
 * the basis of the dump tool and of validSnapshotEntries.
 */
export async function scanWal(
  dir: string,
  visit: (file: string, type: number, data: Uint8Array, offset: number) => void,
): Promise<TornTail | undefined> {
  const names = await listWal(dir);
  let crc = 0;
  let torn: TornTail | undefined;
  for (let i = 0; i < names.length; i++) {
    const path = join(dir, names[i]!.name);
    const handle = await fsp.open(path, constants.O_RDONLY);
    let buf: Buffer;
    try {
      buf = await readWhole(handle);
    } finally {
      await handle.close();
    }
    const visitor: RecordVisitor = (type, data, offset) => {
      visit(names[i]!.name, type, data, offset);
      return undefined;
    };
    // Old segments may have been purged: the first segment present starts a fresh chain.
    const scan = scanSegment(buf, path, i === 0 ? 0 : crc, i === names.length - 1, visitor);
    crc = scan.crc;
    torn = scan.torn;
  }
  return torn;
}

/**
 * The snapshot markers in the WAL whose index is committed by the WAL's last HardState
 * (etcd's ValidSnapshotEntries): the snapshots a restart may load and replay the WAL from.
 */
export async function validSnapshotEntries(dir: string): Promise<WalSnapshot[]> {
  const snaps: WalSnapshot[] = [];
  let state: HardState = { term: 0, vote: 0n, commit: 0 };
  await scanWal(dir, (_file, type, data) => {
    if (type === RecordType.snapshot) snaps.push(decodeWalSnapshot(data));
    else if (type === RecordType.state) state = decodeHardState(data);
  });
  return snaps.filter((s) => s.index <= state.commit);
}

/**
 * Deletes the oldest WAL segments beyond the newest `keep`, stopping at the first one an
 * open WAL still holds locked (see WAL.releaseLockTo). Returns the names removed.
 */
export async function purgeSegments(dir: string, keep: number): Promise<string[]> {
  if (!(keep >= 1)) throw new RangeError('wal: keep at least one segment');
  const names = await listWal(dir);
  const removed: string[] = [];
  for (const n of names.slice(0, Math.max(0, names.length - keep))) {
    const path = join(dir, n.name);
    if (await isLocked(path)) break;
    await fsp.rm(path);
    removed.push(n.name);
  }
  if (removed.length > 0) await fsyncDir(dir);
  return removed;
}
