import fs from 'node:fs';
import { Backend, type BackendConfig } from './backend.js';
import { readNativeSnapshot } from './snapshot.js';

/**
 * Builds a backend file at `config.path` from a native snapshot stream (what a follower
 * receives from its leader, or `snapshot restore` reads). Writes to `<path>.restoring`
 * and renames it into place only once the whole stream checked out, so a torn or corrupt
 * snapshot never leaves a half-written database behind.
 */
export async function restoreBackend(
  config: BackendConfig,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<void> {
  if (fs.existsSync(config.path)) throw new Error(`backend: ${config.path} already exists`);
  const tmp = `${config.path}.restoring`;
  fs.rmSync(tmp, { force: true });
  fs.rmSync(`${tmp}-lock`, { force: true });
  const be = Backend.open({ ...config, path: tmp, batchInterval: 0 });
  try {
    be.lock();
    for await (const { bucket, key, value } of readNativeSnapshot(source)) {
      if (key === undefined) be.createBucket(bucket);
      else be.put(bucket, key, value);
      if (be.pending >= 10_000) {
        be.unlock();
        be.forceCommit();
        be.lock();
      }
    }
    be.unlock();
    await be.close();
  } catch (err) {
    if (!be.isClosed) await be.close();
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}-lock`, { force: true });
    throw err;
  }
  fs.renameSync(tmp, config.path);
  fs.rmSync(`${tmp}-lock`, { force: true });
}
