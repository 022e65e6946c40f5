import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { TestDir } from '../test/util.js';
import { KVStore } from './kvstore.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// An applier killed with SIGKILL leaves a store whose consistent index matches its data
// exactly: every entry up to the index applied, none after it, revision = entries + 1 —
// so the server can replay the raft log from index + 1 without applying anything twice.
it('keeps the consistent index atomic with the data across kill -9, twice in a row', async () => {
  const t = new TestDir();
  try {
    let lastIndex = 0;
    for (let round = 0; round < 2; round++) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(here, '../test/crash-applier.ts'), t.file],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      const target = lastIndex + 1500 + Math.floor(Math.random() * 3000);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /applied (\d+) committed (\d+)\n(?![\s\S]*applied)/.exec(out);
          if (m && Number(m[1]) >= target && Number(m[2]) > 0) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
        child.on('error', reject);
      });
      const be = t.backend();
      const st = new KVStore(be);
      const { index } = st.consistentIndex();
      expect(index).toBeGreaterThan(lastIndex);
      // One revision per entry, none lost, none extra.
      expect(st.rev()).toBe(index + 1);
      const keys = st
        .range(Buffer.from('k'), Buffer.from('l'))
        .kvs.map((kv) => Number(Buffer.from(kv.key).toString().slice(1)));
      const want: number[] = [];
      for (let i = 1; i <= index; i++) {
        const deletedBy = i + 3;
        if (!(deletedBy % 7 === 0 && deletedBy <= index)) want.push(i);
      }
      expect(keys).toEqual(want);
      lastIndex = index;
      await st.close();
      await be.close();
    }
  } finally {
    await t.cleanup();
  }
}, 60_000);
