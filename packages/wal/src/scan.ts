import { crc32cUpdate } from './crc.js';
import { ErrCorrupt } from './errors.js';
import { anyFrameAfter, readFrame } from './frame.js';
import { RecordType } from './record.js';

/** Where the last segment was cut short by a torn write. */
export interface TornTail {
  file: string;
  offset: number;
  reason: string;
}

export interface SegmentScan {
  /** The running CRC after the last good record. */
  crc: number;
  /** Offset just past the last good record. */
  end: number;
  /** Set when the segment ends in a torn write (only ever for the last segment). */
  torn?: TornTail;
}

/**
 * Called for each record whose CRC checks out. Returns a description of the damage when
 * its payload does not decode (treated like a CRC failure), or throws to abort the scan.
 */
export type RecordVisitor = (type: number, data: Uint8Array, offset: number) => string | undefined;

const EMPTY = new Uint8Array(0);

/**
 * Walks the frames of one segment, checking the CRC chain from `crc`, and hands every good
 * record to `visit`. Damage followed by nothing valid in the last segment is a torn write
 * (reported, not thrown); damage anywhere else is ErrCorrupt naming the file and offset.
 */
export function scanSegment(
  buf: Uint8Array,
  path: string,
  crc: number,
  isLast: boolean,
  visit: RecordVisitor,
): SegmentScan {
  const end = buf.length;
  let off = 0;
  for (;;) {
    const frame = readFrame(buf, off, end);
    if (frame.kind === 'end') return { crc, end: off };
    let damage: string | undefined;
    if (frame.kind === 'bad') damage = frame.reason;
    else {
      const rec = frame.record;
      if (rec.type === RecordType.crc) {
        // A segment restarts the chain from its stored CRC, which must continue the chain
        // read so far (0 only before the first record of the log).
        if (crc !== 0 && rec.crc !== crc) damage = 'crc record does not continue the chain';
        else crc = rec.crc;
      } else {
        const data = rec.data ?? EMPTY;
        const next = crc32cUpdate(crc, data);
        if (next !== rec.crc) damage = 'crc mismatch';
        else {
          crc = next;
          damage = visit(rec.type, data, off);
        }
      }
      if (damage === undefined) {
        off = frame.next;
        continue;
      }
    }
    if (!isLast || anyFrameAfter(buf, off, end)) throw new ErrCorrupt(path, off, damage);
    return { crc, end: off, torn: { file: path, offset: off, reason: damage } };
  }
}
