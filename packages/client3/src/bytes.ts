/** Keys and values: bytes, or strings taken as UTF-8. */
export type Bytes = Uint8Array | string;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The byte form of a key or value. */
export function toBytes(value: Bytes | undefined): Uint8Array {
  if (value === undefined) return EMPTY;
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/** UTF-8 text of bytes (lossy for invalid sequences). */
export function toText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The range end `"\0"`: with a key, "every key >= key"; with key "\0" too, every key. */
export const FROM_KEY = new Uint8Array([0]);

/**
 * The smallest key greater than every key that starts with `prefix`: the prefix with its
 * last byte below 0xff incremented and what follows dropped. A prefix of only 0xff bytes
 * (or none) has no such key; then the range runs to the end of the keyspace ("\0").
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      // A copy: Buffer's slice() is a view, and the caller's key must stay as it is.
      const end = Uint8Array.from(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return FROM_KEY;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
