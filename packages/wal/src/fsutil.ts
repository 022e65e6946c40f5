import { constants, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { tryLock } from 'fs-native-extensions';
import { ErrLocked } from './errors.js';

/** fsyncs a directory, making the creation, rename or removal of its entries durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncParent(path: string): Promise<void> {
  await fsyncDir(dirname(path));
}

/**
 * Opens `path` for reading and writing and takes an exclusive lock on it (an open file
 * description lock: it excludes other processes and other opens in this process, as
 * etcd's flock does). Throws ErrLocked when somebody else holds it.
 */
export async function openLocked(path: string, flags: number): Promise<fsp.FileHandle> {
  const handle = await fsp.open(path, flags, 0o600);
  if (!tryLock(handle.fd)) {
    await handle.close();
    throw new ErrLocked(path);
  }
  return handle;
}

/** Whether some open WAL holds the lock on `path` right now. */
export async function isLocked(path: string): Promise<boolean> {
  // An exclusive lock needs a descriptor open for writing.
  const handle = await fsp.open(path, constants.O_RDWR);
  try {
    return !tryLock(handle.fd);
  } finally {
    await handle.close();
  }
}

/**
 * Extends the file to `size` bytes of zeros with ftruncate, as etcd does where fallocate is
 * unavailable (Node has no fallocate). The file reads as zeros past the written data, which
 * is what the WAL's reader relies on (a zero length field ends the log). Measured on ext4,
 * fdatasync after appending into the sparse region costs within a few percent of appending
 * into written zeros, while writing 64 MiB of zeros per segment would double the disk
 * traffic and compete with the appends being fsynced.
 */
export async function preallocate(handle: fsp.FileHandle, size: number): Promise<void> {
  const { size: current } = await handle.stat();
  if (current < size) await handle.truncate(size);
}
