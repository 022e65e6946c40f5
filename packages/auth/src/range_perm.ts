import { authpb } from '@etcd-ts/api';

/** Keys as latin1 strings: one char per byte, so JavaScript's string order is byte order. */
export function bytesToKey(b: Uint8Array): string {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString(
    'latin1',
  );
}

/** "\0" as a range end means "every key from the start on" (etcd's Range/Watch convention). */
export function isOpenEnded(rangeEnd: Uint8Array): boolean {
  return rangeEnd.byteLength === 1 && rangeEnd[0] === 0;
}

/**
 * Whether a permission range may be granted (etcd's isValidPermissionRange): a non-empty key,
 * and no range end (one key), a range end after the key, or "\0" (open-ended).
 */
export function isValidPermissionRange(key: Uint8Array, rangeEnd: Uint8Array): boolean {
  if (key.byteLength === 0) return false;
  if (rangeEnd.byteLength === 0) return true;
  if (Buffer.compare(key, rangeEnd) < 0) return true;
  return isOpenEnded(rangeEnd);
}

/**
 * A set of keys as sorted, disjoint, non-adjacent half-open intervals [start, end) of latin1
 * strings; `end === null` is unbounded. Union-merging on build is what lets a check be one
 * binary search, however many roles and permissions a user has.
 */
export class IntervalSet {
  private readonly starts: string[];
  private readonly ends: (string | null)[];

  private constructor(starts: string[], ends: (string | null)[]) {
    this.starts = starts;
    this.ends = ends;
  }

  static readonly empty = new IntervalSet([], []);

  /** Merges any intervals (overlapping, adjacent, unsorted, duplicated) into a set. */
  static of(intervals: Array<[string, string | null]>): IntervalSet {
    const sorted = intervals
      .filter(([s, e]) => e === null || s < e)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const starts: string[] = [];
    const ends: (string | null)[] = [];
    for (const [s, e] of sorted) {
      const last = ends.length - 1;
      if (last >= 0) {
        const lastEnd = ends[last]!;
        if (lastEnd === null) break; // everything from here on is already in
        if (s <= lastEnd) {
          if (e === null || e > lastEnd) ends[last] = e;
          continue;
        }
      }
      starts.push(s);
      ends.push(e);
    }
    return new IntervalSet(starts, ends);
  }

  get size(): number {
    return this.starts.length;
  }

  /** The intervals, for tests and inspection. */
  intervals(): Array<[string, string | null]> {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }

  /** Index of the last interval starting at or before `key`, or -1. */
  private floor(key: string): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= key) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Whether `key` is in the set. */
  containsKey(key: string): boolean {
    const i = this.floor(key);
    if (i < 0) return false;
    const end = this.ends[i]!;
    return end === null || key < end;
  }

  /** `containsRange` with the end as bytes: one comparison, so not worth converting it. */
  containsRangeBytes(key: string, end: Uint8Array | null): boolean {
    const i = this.floor(key);
    if (i < 0) return false;
    const have = this.ends[i]!;
    if (have === null) return true;
    if (key >= have) return false;
    return end !== null && compareBytesToLatin1(end, have) <= 0;
  }

  /**
   * Whether every key in [key, end) is in the set (`end === null`: unbounded). As etcd's
   * interval tree does, a range whose end is not after its key asks for `key` alone.
   */
  containsRange(key: string, end: string | null): boolean {
    const i = this.floor(key);
    if (i < 0) return false;
    const have = this.ends[i]!;
    if (have === null) return true;
    if (key >= have) return false;
    // Merged intervals never touch, so the range must end within this one.
    return end !== null && end <= have;
  }
}

/** A user's permissions, merged over all its roles (etcd's unifiedRangePermissions). */
export interface UnifiedPermissions {
  read: IntervalSet;
  write: IntervalSet;
}

/** The interval a permission covers; a single key k is [k, k + "\0"). */
export function permissionInterval(perm: authpb.Permission): [string, string | null] {
  const key = bytesToKey(perm.key);
  if (perm.rangeEnd.byteLength === 0) return [key, `${key}\u0000`];
  if (isOpenEnded(perm.rangeEnd)) return [key, null];
  return [key, bytesToKey(perm.rangeEnd)];
}

/** Merges the permissions of `roles` into one read set and one write set. */
export function mergePermissions(roles: Iterable<authpb.Role>): UnifiedPermissions {
  const read: Array<[string, string | null]> = [];
  const write: Array<[string, string | null]> = [];
  for (const role of roles) {
    for (const perm of role.keyPermission) {
      const ivl = permissionInterval(perm);
      switch (perm.permType) {
        case authpb.Permission_Type.READ:
          read.push(ivl);
          break;
        case authpb.Permission_Type.WRITE:
          write.push(ivl);
          break;
        case authpb.Permission_Type.READWRITE:
          read.push(ivl);
          write.push(ivl);
          break;
        default:
          // An unknown type grants nothing (etcd's switch has no default either).
          break;
      }
    }
  }
  return { read: IntervalSet.of(read), write: IntervalSet.of(write) };
}

/**
 * Whether `perms` allow the request on [key, rangeEnd) (etcd's isRangeOpPermitted): an empty
 * range end means the single key, "\0" every key from `key` on. The empty key is never
 * permitted: etcd's byte ordering puts it after every key.
 */
export function isRangeOpPermitted(
  set: IntervalSet,
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
): boolean {
  if (key.byteLength === 0) return false;
  const k = bytesToKey(key);
  if (rangeEnd === undefined || rangeEnd.byteLength === 0) return set.containsKey(k);
  return set.containsRangeBytes(k, isOpenEnded(rangeEnd) ? null : rangeEnd);
}

/** Byte-order comparison of `bytes` with a latin1 string (one char per byte). */
function compareBytesToLatin1(bytes: Uint8Array, s: string): number {
  const n = Math.min(bytes.length, s.length);
  for (let i = 0; i < n; i++) {
    const d = bytes[i]! - s.charCodeAt(i);
    if (d !== 0) return d;
  }
  return bytes.length - s.length;
}
