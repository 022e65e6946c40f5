// Byte helpers shared by the backend. Keys travel through the write buffer as latin1
// ("binary") strings: one char per byte, so JavaScript's string order is byte order and a
// Map lookup costs one hash of a short flat string.

/** Returns `bytes` as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The latin1 string with one char per byte of `bytes`. */
export function toBinaryString(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('latin1');
}

/** The bytes of a latin1 string made by {@link toBinaryString}. */
export function fromBinaryString(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
