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

const ZEROS = Buffer.alloc(1 << 20);

/**
 * Gives the file `size` bytes of real, zeroed blocks. Writing the zeros (instead of
 * extending a sparse file) means later appends overwrite allocated blocks, so an fdatasync
 * flushes data only, not block-allocation metadata: that is what preallocation buys.
 */
export async function preallocate(handle: fsp.FileHandle, size: number, from = 0): Promise<void> {
  for (let off = from; off < size; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, size - off);
    await handle.write(ZEROS, 0, n, off);
  }
}
