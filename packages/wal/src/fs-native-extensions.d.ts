// The subset of fs-native-extensions (prebuilt N-API addon) this package uses.
declare module 'fs-native-extensions' {
  /** Takes an exclusive open-file-description lock (F_OFD_SETLK); false when held elsewhere. */
  export function tryLock(
    fd: number,
    offset?: number,
    length?: number,
    opts?: { shared?: boolean },
  ): boolean;
  export function unlock(fd: number, offset?: number, length?: number): void;
}
