import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd } from '@etcd-ts/testing';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { ETCD_TS_BIN, run } from './helpers.js';

describe('the etcd executable', () => {
  it('prints its version', async () => {
    const r = await run(ETCD_TS_BIN, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^etcd Version: 3\.5\.\d+\n/);
  });

  it('refuses a bad flag with a message and exit code 2', async () => {
    const r = await run(ETCD_TS_BIN, ['--heartbeat-interval=abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('etcd: invalid value "abc" for flag -heartbeat-interval: parse error\n');
    const u = await run(ETCD_TS_BIN, ['--bogus']);
    expect(u.code).toBe(2);
    expect(u.stderr).toBe('etcd: flag provided but not defined: -bogus\n');
  });

  it('stops gracefully on SIGTERM and at once on a second signal, keeping acknowledged writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-ts-signal-'));
    try {
      for (const signals of [1, 2]) {
        const etcd = await startEtcd({ bin: ETCD_TS_BIN, dataDir: dir });
        const c = new Etcd3({ hosts: etcd.clientUrl });
        for (let i = 0; i < 50; i++) await c.put(`s${signals}/k${i}`).value(String(i));
        // An open watch keeps the graceful stop waiting on in-flight streams for a moment.
        const watcher = await c.watch().key('w').create();
        watcher.on('error', () => {});
        const exited = new Promise<number | null>((resolve) => {
          const t = setInterval(() => {
            try {
              process.kill(etcd.pid, 0);
            } catch {
              clearInterval(t);
              resolve(null);
            }
          }, 20);
        });
        process.kill(etcd.pid, 'SIGTERM');
        if (signals === 2) {
          // Signals do not queue: send the second once the first was taken.
          while (!etcd.logs().includes('received signal; shutting down'))
            await new Promise((r) => setTimeout(r, 5));
          process.kill(etcd.pid, 'SIGINT');
        }
        await exited;
        c.close();
        expect(etcd.logs()).toMatch(
          signals === 1 ? /closed etcd server/ : /received second signal; exiting immediately/,
        );
      }
      const etcd = await startEtcd({ bin: ETCD_TS_BIN, dataDir: dir });
      const c = new Etcd3({ hosts: etcd.clientUrl });
      expect(await c.getAll().prefix('s1/').count()).toBe(50);
      expect(await c.getAll().prefix('s2/').count()).toBe(50);
      c.close();
      await etcd.kill();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
