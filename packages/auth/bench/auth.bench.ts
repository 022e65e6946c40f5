/**
 * Permission checks per second for a user holding 100 roles of 100 key ranges each (10,000
 * permissions, merged into one interval set per direction), on a real backend.
 *
 *   pnpm --filter @etcd-ts/auth bench
 *
 * Target: >= 1,000,000 permitted checks per second. Best of 3 runs of 1,000,000 checks each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authpb } from '@etcd-ts/api';
import { Backend } from '@etcd-ts/backend';
import { AuthStore } from '../src/index.js';

const ROLES = 100;
const RANGES_PER_ROLE = 100;
const CHECKS = 1_000_000;
const RUNS = 3;
const TARGET = 1_000_000;

function rangeKey(i: number): string {
  return `/registry/ns-${String(i).padStart(6, '0')}/`;
}

function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b;
}

interface Rate {
  /** Per second of elapsed time. */
  wall: number;
  /** Per second of this process's CPU time: steadier on a shared machine. */
  cpu: number;
}

function best(fn: () => void, n: number): Rate {
  const top: Rate = { wall: 0, cpu: 0 };
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    top.wall = Math.max(top.wall, (n * 1000) / wallMs);
    top.cpu = Math.max(top.cpu, (n * 1e6) / (c.user + c.system));
  }
  return top;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-bench-'));
  const backend = Backend.open({ path: path.join(dir, 'db'), noSync: true });
  const s = new AuthStore({ backend, bcryptCost: 4 });
  const noPassword = { noPassword: true };
  s.userAdd({ name: 'root', password: '', hashedPassword: '', options: noPassword });
  s.userGrantRole({ user: 'root', role: 'root' });
  s.userAdd({ name: 'app', password: '', hashedPassword: '', options: noPassword });
  const t0 = performance.now();
  for (let r = 0; r < ROLES; r++) {
    s.roleAdd({ name: `role-${r}` });
    for (let i = 0; i < RANGES_PER_ROLE; i++) {
      // Every other namespace, so about half the keys a request names are refused.
      const prefix = rangeKey(2 * (r * RANGES_PER_ROLE + i));
      s.roleGrantPermission({
        name: `role-${r}`,
        perm: {
          permType: i % 3 === 0 ? authpb.Permission_Type.READWRITE : authpb.Permission_Type.READ,
          key: Buffer.from(prefix),
          rangeEnd: prefixEnd(prefix),
        },
      });
    }
    s.userGrantRole({ user: 'app', role: `role-${r}` });
  }
  s.authEnable();
  const setupMs = performance.now() - t0;
  const info = { username: 'app', revision: s.revision };
  const total = ROLES * RANGES_PER_ROLE;

  const keys: Buffer[] = [];
  const ranges: Array<[Buffer, Buffer]> = [];
  const denied: Buffer[] = [];
  for (let i = 0; i < 4096; i++) {
    const ns = 2 * Math.floor(Math.random() * total);
    keys.push(Buffer.from(`${rangeKey(ns)}pods/p-${i}`));
    ranges.push([Buffer.from(rangeKey(ns)), prefixEnd(rangeKey(ns))]);
    denied.push(Buffer.from(`${rangeKey(ns + 1)}pods/p-${i}`));
  }
  // The first check builds the user's merged sets; measure warm checks.
  s.isRangePermitted(info, keys[0]!);
  const t1 = performance.now();
  // Any permission change drops the cached sets; the next check rebuilds the user's.
  s.roleAdd({ name: 'touch' });
  s.roleGrantPermission({
    name: 'touch',
    perm: {
      permType: authpb.Permission_Type.READ,
      key: Buffer.from('x'),
      rangeEnd: Buffer.alloc(0),
    },
  });
  const info2 = { username: 'app', revision: s.revision };
  s.isRangePermitted(info2, keys[0]!);
  const rebuildMs = performance.now() - t1;

  const point = best(() => {
    for (let i = 0; i < CHECKS; i++) s.isRangePermitted(info2, keys[i & 4095]!);
  }, CHECKS);
  const range = best(() => {
    for (let i = 0; i < CHECKS; i++) {
      const r = ranges[i & 4095]!;
      s.isRangePermitted(info2, r[0], r[1]);
    }
  }, CHECKS);
  const put = best(() => {
    for (let i = 0; i < CHECKS; i++) {
      try {
        s.isPutPermitted(info2, keys[i & 4095]!);
      } catch {
        // two thirds of the namespaces are read-only
      }
    }
  }, CHECKS);
  const refused = best(() => {
    for (let i = 0; i < CHECKS / 10; i++) {
      try {
        s.isRangePermitted(info2, denied[i & 4095]!);
      } catch {
        // expected
      }
    }
  }, CHECKS / 10);

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(11);
  const line = (label: string, r: Rate, target: boolean) =>
    console.log(
      `${label.padEnd(40)} ${fmt(r.wall)} /s wall ${fmt(r.cpu)} /s cpu${target ? (r.wall >= TARGET ? '  OK' : '  BELOW TARGET') : ''}`,
    );
  console.log(
    `user with ${ROLES} roles x ${RANGES_PER_ROLE} ranges (${total} permissions); setup ${setupMs.toFixed(0)} ms, cache rebuild ${rebuildMs.toFixed(1)} ms; best of ${RUNS}; target >= ${TARGET.toLocaleString('en-US')}/s`,
  );
  line('range check, one key (permitted)', point, true);
  line('range check, a prefix (permitted)', range, true);
  line('put check (1/3 permitted, rest thrown)', put, false);
  line('range check refused (throws)', refused, false);
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
