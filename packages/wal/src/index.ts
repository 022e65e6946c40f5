// @etcd-ts/wal: the whole public API.

export { main as walDumpMain } from './cli.js';
export { type DumpOptions, dumpWal } from './dump.js';
export {
  ErrClosed,
  ErrCorrupt,
  ErrEmptySnapshot,
  ErrFileNotFound,
  ErrLocked,
  ErrMetadataConflict,
  ErrNoSnapshot,
  ErrSliceOutOfRange,
  ErrSnapCRCMismatch,
  ErrSnapshotMismatch,
  ErrSnapshotNotFound,
  SnapError,
  WalError,
} from './errors.js';
export {
  purgeSegments,
  scanWal,
  type VerifyResult,
  validSnapshotEntries,
  verify,
} from './inspect.js';
export { isValidSequence, parseWalName, type WalFileName, walName } from './names.js';
export { RecordType, type WalSnapshot } from './record.js';
export type { TornTail } from './scan.js';
export { decodeSnapFile, Snapshotter, snapName } from './snap/snapshotter.js';
export {
  listWal,
  type ReadAllResult,
  SEGMENT_SIZE_BYTES,
  WAL,
  type WalOptions,
  walExists,
} from './wal.js';
