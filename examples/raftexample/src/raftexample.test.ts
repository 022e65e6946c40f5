// Three real raftexample processes on loopback ports: writes replicate, a
// killed member (the leader, even) does not stop writes, and it catches up
// from its own disk log and the group when restarted.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'main.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('raftexample: three members on loopback', () => {
  const procs = new Map<number, ChildProcess>();
  let dir: string;
  let cluster: string;
  let clientPorts: number[];

  function startMember(id: number, extra: string[] = [], clusterArg = cluster): Promise<void> {
    const p = spawn(
      process.execPath,
      [
        main,
        '--id',
        String(id),
        '--cluster',
        clusterArg,
        '--port',
        String(clientPorts[id - 1]),
        '--data-dir',
        join(dir, `m${id}`),
        // Snapshot and compact often, so that catching up goes through snapshots too.
        '--snapshot-count',
        '8',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.set(id, p);
    return new Promise((resolve, reject) => {
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('serving clients')) resolve();
      });
      p.stderr!.on('data', (d: Buffer) => process.stderr.write(`[m${id}] ${d}`));
      p.once('exit', (code) => reject(new Error(`member ${id} exited with ${code}: ${out}`)));
    });
  }

  const url = (id: number, path: string) => `http://127.0.0.1:${clientPorts[id - 1]}${path}`;
  const put = async (id: number, key: string, value: string) =>
    (await fetch(url(id, `/${key}`), { method: 'PUT', body: value })).status;
  const get = async (id: number, key: string, serializable = false) => {
    const res = await fetch(url(id, `/${key}${serializable ? '?serializable' : ''}`));
    return res.status === 200 ? await res.text() : undefined;
  };
  const leaderOf = async (id: number) => {
    const st = (await (await fetch(url(id, '/status'))).json()) as { leader: string };
    return st.leader === '0' ? undefined : Number(st.leader);
  };

  beforeAll(async () => {
    // Build what the processes run (turbo does this before `pnpm test`; a direct vitest run may not have).
    if (!existsSync(join(root, '..', '..', 'packages', 'raft', 'dist', 'index.js'))) {
      execFileSync('pnpm', ['--filter', '@etcd-ts/raft', 'build'], { cwd: root, stdio: 'inherit' });
    }
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
    dir = mkdtempSync(join(tmpdir(), 'raftexample-'));
    const peerPorts = [await freePort(), await freePort(), await freePort()];
    clientPorts = [await freePort(), await freePort(), await freePort()];
    cluster = peerPorts.map((p) => `http://127.0.0.1:${p}`).join(',');
    await Promise.all([1, 2, 3].map((id) => startMember(id)));
  }, 60_000);

  afterAll(() => {
    for (const p of procs.values()) p.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('replicates writes, survives killing the leader, and the restarted member catches up', async () => {
    const leader = await until('a leader', () => leaderOf(1));
    expect([1, 2, 3]).toContain(leader);
    expect(
      await until('first write', async () =>
        (await put(1, 'hello', 'world')) === 204 ? true : undefined,
      ),
    ).toBe(true);
    expect(await get(2, 'hello')).toBe('world');
    expect(await get(3, 'hello')).toBe('world');

    // Kill the leader outright.
    const victim = leader;
    const survivors = [1, 2, 3].filter((id) => id !== victim);
    procs.get(victim)!.removeAllListeners('exit');
    procs.get(victim)!.kill('SIGKILL');
    const newLeader = await until('a new leader', async () => {
      const l = await leaderOf(survivors[0]!);
      return l !== undefined && l !== victim ? l : undefined;
    });
    expect(survivors).toContain(newLeader);

    // Writes still succeed with two of three members.
    for (let i = 0; i < 20; i++) {
      const status = await until(`write ${i}`, async () =>
        (await put(survivors[i % 2]!, `k${i}`, `v${i}`)) === 204 ? 204 : undefined,
      );
      expect(status).toBe(204);
    }
    expect(await get(survivors[1]!, 'k19')).toBe('v19');
    expect(await get(survivors[0]!, 'k0')).toBe('v0');

    // The killed member restarts from its disk log and catches up.
    await startMember(victim);
    expect(
      await until('catch-up', async () =>
        (await get(victim, 'k19', true)) === 'v19' ? true : undefined,
      ),
    ).toBe(true);
    expect(await get(victim, 'hello')).toBe('world');
  }, 90_000);

  it('adds a fourth member that joins through the log, and removes it again', async () => {
    const peer4 = `http://127.0.0.1:${await freePort()}`;
    clientPorts.push(await freePort());
    const add = await until('member added', async () => {
      const res = await fetch(url(1, '/members/4'), { method: 'POST', body: peer4 });
      return res.status === 204 ? 204 : undefined;
    });
    expect(add).toBe(204);
    await startMember(4, ['--join'], `${cluster},${peer4}`);
    await until('write after join', async () =>
      (await put(2, 'joined', 'yes')) === 204 ? true : undefined,
    );
    expect(
      await until('member 4 catches up', async () =>
        (await get(4, 'joined', true)) === 'yes' ? true : undefined,
      ),
    ).toBe(true);
    expect(await get(4, 'k5')).toBe('v5'); // a linearizable read served by the new member

    // Removing it: it applies its own removal and shuts down by itself.
    const p4 = procs.get(4)!;
    p4.removeAllListeners('exit');
    const exited = new Promise<number | null>((resolve) =>
      p4.once('exit', (code) => resolve(code)),
    );
    expect(
      await until('member removed', async () => {
        const res = await fetch(url(1, '/members/4'), { method: 'DELETE' });
        return res.status === 204 ? 204 : undefined;
      }),
    ).toBe(204);
    expect(await Promise.race([exited, sleep(10_000).then(() => 'still running')])).toBe(0);
    // The remaining three keep serving writes.
    expect(
      await until('write after removal', async () =>
        (await put(1, 'after', 'removal')) === 204 ? 204 : undefined,
      ),
    ).toBe(204);
  }, 90_000);
});
