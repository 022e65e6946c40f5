import { crc32c } from '@node-rs/crc32';

/**
 * Continues a CRC-32C (Castagnoli) over `data` from a previous checksum (0 to start),
 * as Go's crc32.Update does with the Castagnoli table: the checksum etcd chains through
 * every WAL record and stores in every snapshot file. Native and SIMD-accelerated.
 */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  return crc32c(data as Buffer, crc);
}
