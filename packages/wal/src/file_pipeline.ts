import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { openLocked, preallocate } from './fsutil.js';

export interface PreparedFile {
  path: string;
  handle: fsp.FileHandle;
}

/**
 * Prepares the next WAL segment in the background: a locked, preallocated and fsynced
 * temporary file, so cutting to a new segment costs a rename instead of a 64 MiB
 * allocation on the write path. At most one file is prepared ahead.
 */
export class FilePipeline {
  private count = 0;
  private next: Promise<PreparedFile> | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly size: number,
  ) {
    this.prepareNext();
  }

  /** The prepared file; preparation of the one after it starts at once. */
  async take(): Promise<PreparedFile> {
    const current = this.next;
    if (current === undefined) throw new Error('wal: file pipeline is closed');
    const file = await current;
    this.prepareNext();
    return file;
  }

  /** Stops preparing and removes the file prepared ahead, if any. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.next;
    this.next = undefined;
    if (pending === undefined) return;
    try {
      const file = await pending;
      await file.handle.close();
      await fsp.rm(file.path, { force: true });
    } catch {
      // The background preparation failed; there is nothing left to clean up.
    }
  }

  private prepareNext(): void {
    if (this.closed) return;
    const path = join(this.dir, `${this.count % 2}.tmp`);
    this.count++;
    this.next = this.create(path);
    // A failure surfaces from take(); do not let it go unhandled meanwhile.
    this.next.catch(() => {});
  }

  private async create(path: string): Promise<PreparedFile> {
    const handle = await openLocked(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC);
    try {
      await preallocate(handle, this.size);
      await handle.datasync();
      return { path, handle };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
}
