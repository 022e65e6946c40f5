import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { Backend } from './backend.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// A writer killed with SIGKILL at a random moment leaves a file that opens at a committed
// batch: meta/count matches exactly the keys present, and nothing reported as committed
// is lost.
it('survives kill -9 of a writer at a committed batch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-crash-'));
  const file = path.join(dir, 'db');
  try {
    for (let round = 0; round < 3; round++) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(here, '../test/crash-writer.ts'), file],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let committed = 0;
      let out = '';
      const target = 2000 + Math.floor(Math.random() * 4000);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const lines = out.split('\n');
          out = lines.pop()!;
          for (const line of lines) {
            const m = /^committed (\d+)$/.exec(line);
            if (m) committed = Math.max(committed, Number(m[1]));
          }
          if (committed >= target) {
            child.kill('SIGKILL');
          }
        });
        child.on('exit', () => resolve());
        child.on('error', reject);
      });
      const be = Backend.open({ path: file, batchInterval: 0 });
      try {
        const raw = be.get('meta', Buffer.from('count'));
        expect(raw).toBeDefined();
        const count = Number(raw!.readBigUInt64BE());
        expect(count).toBeGreaterThanOrEqual(committed);
        const keys = be.range('key', Buffer.alloc(0)).keys.map((k) => k.toString());
        expect(keys.length).toBe(count);
        expect(keys.at(-1)).toBe(`k${String(count - 1).padStart(9, '0')}`);
      } finally {
        await be.close();
      }
      // The next round's writer restarts numbering: start from a fresh file.
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}-lock`, { force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
