import { decodeEntry, decodeHardState, EntryType } from '@etcd-ts/raft';
import { scanWal } from './inspect.js';
import { decodeWalSnapshot, RecordType, recordTypeName } from './record.js';

const ENTRY_TYPE_NAMES: Record<number, string> = {
  [EntryType.EntryNormal]: 'norm',
  [EntryType.EntryConfChange]: 'conf',
  [EntryType.EntryConfChangeV2]: 'confv2',
};

export interface DumpOptions {
  /** Only entries with index >= this are printed. */
  startIndex?: number;
  /** Print entry data in hex instead of as a short quoted preview. */
  hexData?: boolean;
}

/**
 * Renders every record of the WAL in `dir` as text, one line each, like etcd's
 * etcd-dump-logs: the file and offset, the record type and what it holds. Ends with the
 * final HardState, entry counts per type, and any torn tail.
 */
export async function dumpWal(dir: string, options: DumpOptions = {}): Promise<string> {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  let lastIndex = 0;
  let state = '';
  const torn = await scanWal(dir, (file, type, data, offset) => {
    const at = `${file}@${offset}`.padEnd(44);
    switch (type) {
      case RecordType.entry: {
        const e = decodeEntry(data);
        lastIndex = e.index;
        const kind = ENTRY_TYPE_NAMES[e.type] ?? String(e.type);
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
        if (e.index < (options.startIndex ?? 0)) return;
        lines.push(
          `${at} entry     term=${e.term} index=${e.index} type=${kind} data=${preview(e.data, options.hexData)}`,
        );
        return;
      }
      case RecordType.state: {
        const h = decodeHardState(data);
        state = `term=${h.term} vote=${h.vote.toString(16)} commit=${h.commit}`;
        lines.push(`${at} state     ${state}`);
        return;
      }
      case RecordType.snapshot: {
        const s = decodeWalSnapshot(data);
        lines.push(`${at} snapshot  term=${s.term} index=${s.index}`);
        return;
      }
      case RecordType.metadata:
        lines.push(`${at} metadata  ${Buffer.from(data).toString('hex')}`);
        return;
      default:
        lines.push(`${at} ${recordTypeName(type)}`);
    }
  });
  lines.push('');
  lines.push(`hard state: ${state || 'none'}`);
  lines.push(`last index: ${lastIndex}`);
  const summary = [...counts].map(([k, v]) => `${k}=${v}`).join(' ');
  lines.push(`entries: ${summary || 'none'}`);
  if (torn) lines.push(`torn tail: ${torn.file} at offset ${torn.offset} (${torn.reason})`);
  return `${lines.join('\n')}\n`;
}

function preview(data: Uint8Array, hex = false): string {
  if (data.length === 0) return '""';
  if (hex) return Buffer.from(data).toString('hex');
  const text = Buffer.from(data.subarray(0, 64)).toString('latin1');
  const printable = /^[\x20-\x7e]*$/.test(text);
  const shown = printable
    ? JSON.stringify(text)
    : Buffer.from(data.subarray(0, 32)).toString('hex');
  return data.length > (printable ? 64 : 32) ? `${shown}... (${data.length} bytes)` : shown;
}
