/** WAL segment file names: `%016x-%016x.wal`, the segment's sequence and its first raft index. */

const WAL_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function walName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

export interface WalFileName {
  name: string;
  seq: number;
  index: number;
}

/** Parses a segment name; undefined for anything else (temp files, locks, foreign files). */
export function parseWalName(name: string): WalFileName | undefined {
  const m = WAL_NAME.exec(name);
  if (!m) return undefined;
  return { name, seq: parseHex(m[1]!), index: parseHex(m[2]!) };
}

/** Segment names of a directory listing, sorted by sequence. */
export function walNames(entries: readonly string[]): WalFileName[] {
  const out: WalFileName[] = [];
  for (const e of entries) {
    const p = parseWalName(e);
    if (p) out.push(p);
  }
  out.sort((a, b) => a.seq - b.seq);
  return out;
}

/**
 * The position in `names` of the last segment whose first index is <= index, that is the
 * segment holding `index` (-1 if the oldest segment starts after it).
 */
export function searchIndex(names: readonly WalFileName[], index: number): number {
  for (let i = names.length - 1; i >= 0; i--) {
    if (names[i]!.index <= index) return i;
  }
  return -1;
}

/** Sequence numbers must increase by one from segment to segment: a gap means a lost file. */
export function isValidSequence(names: readonly WalFileName[]): boolean {
  for (let i = 1; i < names.length; i++) {
    if (names[i]!.seq !== names[i - 1]!.seq + 1) return false;
  }
  return true;
}

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

function parseHex(s: string): number {
  const n = Number.parseInt(s, 16);
  if (!Number.isSafeInteger(n)) throw new RangeError(`wal: ${s} is beyond 2^53`);
  return n;
}
