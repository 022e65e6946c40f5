import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dumpWal } from './dump.js';

const USAGE = `usage: wal-dump [--start-index N] [--hex] <data-dir | wal-dir>

Prints every record of an etcd(-ts) write-ahead log as text: file@offset, the record
type and its contents, then the final hard state and entry counts. A data dir is
searched for member/wal.`;

/** Entry point of the `wal-dump` bin. Returns the exit code. */
export async function main(argv: string[], out: (s: string) => void): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    out(`wal-dump: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.values.help || parsed.positionals.length !== 1) {
    out(`${USAGE}\n`);
    return parsed.values.help ? 0 : 2;
  }
  const given = parsed.positionals[0]!;
  const dir = existsSync(join(given, 'member', 'wal')) ? join(given, 'member', 'wal') : given;
  const startIndex = parsed.values['start-index'] ? Number(parsed.values['start-index']) : 0;
  if (!Number.isSafeInteger(startIndex) || startIndex < 0) {
    out('wal-dump: --start-index must be a non-negative integer\n');
    return 2;
  }
  try {
    out(await dumpWal(dir, { startIndex, hexData: parsed.values.hex ?? false }));
    return 0;
  } catch (err) {
    out(`wal-dump: ${(err as Error).message}\n`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'start-index': { type: 'string' },
      hex: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
