import { authpb } from '@etcd-ts/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IntervalSet,
  isRangeOpPermitted,
  isValidPermissionRange,
  mergePermissions,
} from './range_perm.js';
import { AuthStore } from './store.js';
import { mulberry32, seedFrom, TempBackend } from './test_helpers.test.js';

const { READ, WRITE, READWRITE } = authpb.Permission_Type;
const b = (s: string) => Buffer.from(s, 'latin1');

describe('IntervalSet', () => {
  it('merges overlapping, adjacent, nested, duplicate and unsorted intervals', () => {
    const set = IntervalSet.of([
      ['m', 'p'],
      ['a', 'c'],
      ['c', 'e'], // adjacent to [a, c)
      ['b', 'd'],
      ['n', 'o'], // nested
      ['m', 'p'], // duplicate
      ['x', 'x'], // empty: dropped
      ['q', null],
      ['s', 't'], // inside the open-ended one
    ]);
    expect(set.intervals()).toEqual([
      ['a', 'e'],
      ['m', 'p'],
      ['q', null],
    ]);
    expect(set.containsKey('d')).toBe(true);
    expect(set.containsKey('e')).toBe(false);
    expect(set.containsKey('zzz')).toBe(true);
    expect(set.containsRange('a', 'e')).toBe(true);
    expect(set.containsRange('a', 'f')).toBe(false);
    expect(set.containsRange('q', null)).toBe(true);
    expect(set.containsRange('p', null)).toBe(false);
    expect(IntervalSet.empty.containsKey('a')).toBe(false);
  });

  it('validates permission ranges as etcd does', () => {
    expect(isValidPermissionRange(b(''), b(''))).toBe(false);
    expect(isValidPermissionRange(b('a'), b(''))).toBe(true);
    expect(isValidPermissionRange(b('a'), b('b'))).toBe(true);
    expect(isValidPermissionRange(b('b'), b('a'))).toBe(false);
    expect(isValidPermissionRange(b('a'), b('a'))).toBe(false);
    expect(isValidPermissionRange(b('a'), b('\0'))).toBe(true);
    expect(isValidPermissionRange(b('\0'), b('\0'))).toBe(true);
  });
});

// ---- a brute-force reference: etcd's interval-tree algorithm over the raw permissions ----

type End = string | null; // null: unbounded (etcd's empty BytesAffineComparable)

interface RawInterval {
  begin: string;
  end: End;
}

/** etcd's BytesAffineComparable order: the empty string (here null) sorts after everything. */
function cmp(a: End, b: End): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function rawInterval(p: authpb.Permission): RawInterval {
  const key = Buffer.from(p.key).toString('latin1');
  const end = Buffer.from(p.rangeEnd).toString('latin1');
  if (end === '') return { begin: key, end: `${key}\0` };
  if (end === '\0') return { begin: key, end: null };
  return { begin: key, end };
}

/** Does query [qb, qe) overlap [n.begin, n.end) by etcd's Interval.Compare? */
function overlaps(qb: End, qe: End, n: RawInterval): boolean {
  const leftOf = cmp(qb, n.begin) < 0 && cmp(qe, n.begin) <= 0;
  const rightOf = cmp(qb, n.end) >= 0;
  return !leftOf && !rightOf;
}

/** etcd's IntervalTree.Contains / Intersects over the raw list, scanned linearly. */
function referencePermitted(perms: RawInterval[], key: string, rangeEnd: string): boolean {
  const qb: End = key === '' ? null : key;
  if (rangeEnd === '') {
    const qe: End = qb === null ? '\0' : `${key}\0`;
    return perms.some((n) => overlaps(qb, qe, n));
  }
  const qe: End = rangeEnd === '\0' ? null : rangeEnd;
  const visited = perms.filter((n) => overlaps(qb, qe, n)).sort((x, y) => cmp(x.begin, y.begin));
  if (visited.length === 0) return false;
  let minBegin = visited[0]!.begin;
  let maxEnd = visited[0]!.end;
  for (const n of visited.slice(1)) {
    if (cmp(maxEnd, n.begin) < 0) return false;
    if (cmp(n.end, maxEnd) > 0) maxEnd = n.end;
    if (cmp(n.begin, minBegin) < 0) minBegin = n.begin;
  }
  return cmp(maxEnd, qe) >= 0 && cmp(minBegin, qb) <= 0;
}

const ALPHABET = ['\0', '\x01', 'a', 'b', 'c', '\xff'];

function randomKey(rand: () => number, maxLen = 3): string {
  const n = 1 + Math.floor(rand() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

function randomPermission(rand: () => number): authpb.Permission {
  for (;;) {
    const key = randomKey(rand);
    const r = rand();
    const rangeEnd = r < 0.3 ? '' : r < 0.45 ? '\0' : randomKey(rand);
    const t = rand();
    const permType = t < 0.4 ? READ : t < 0.8 ? WRITE : READWRITE;
    const p = { permType, key: b(key), rangeEnd: b(rangeEnd) };
    if (isValidPermissionRange(p.key, p.rangeEnd)) return p;
  }
}

function randomQuery(rand: () => number): [string, string] {
  const key = rand() < 0.03 ? '' : randomKey(rand);
  const r = rand();
  // Includes ranges whose end is not after the key: etcd then asks about the key alone.
  return [key, r < 0.3 ? '' : r < 0.45 ? '\0' : randomKey(rand)];
}

describe('permission checks against a brute-force reference (randomised)', () => {
  const seed = seedFrom('AUTH_PERM_SEED');

  it('merged sets agree with etcd interval-tree semantics on random permissions', () => {
    console.log(`permission check seed=${seed} (AUTH_PERM_SEED to reproduce)`);
    const rand = mulberry32(seed);
    let checks = 0;
    for (let round = 0; round < 300; round++) {
      const roles: authpb.Role[] = [];
      const nRoles = 1 + Math.floor(rand() * 4);
      for (let r = 0; r < nRoles; r++) {
        const perms: authpb.Permission[] = [];
        const n = Math.floor(rand() * 8);
        for (let i = 0; i < n; i++) perms.push(randomPermission(rand));
        roles.push({ name: b(`r${r}`), keyPermission: perms });
      }
      const merged = mergePermissions(roles);
      const all = roles.flatMap((r) => r.keyPermission);
      const readRaw = all.filter((p) => p.permType !== WRITE).map(rawInterval);
      const writeRaw = all.filter((p) => p.permType !== READ).map(rawInterval);
      for (let q = 0; q < 200; q++) {
        const [key, end] = randomQuery(rand);
        const rk = b(key);
        const re = b(end);
        const ctx = `seed=${seed} round=${round} key=${JSON.stringify(key)} end=${JSON.stringify(end)}`;
        expect(isRangeOpPermitted(merged.read, rk, re), `read ${ctx}`).toBe(
          referencePermitted(readRaw, key, end),
        );
        expect(isRangeOpPermitted(merged.write, rk, re), `write ${ctx}`).toBe(
          referencePermitted(writeRaw, key, end),
        );
        checks += 2;
      }
    }
    expect(checks).toBe(300 * 200 * 2);
  }, 120_000);

  describe('through the store, across grants, revokes and role changes', () => {
    let tmp: TempBackend;
    beforeAll(() => {
      tmp = new TempBackend();
    });
    afterAll(async () => {
      await tmp.dispose();
    });

    it('every check agrees with the reference after every change', () => {
      const rand = mulberry32(seed ^ 0x5bd1e995);
      const s = new AuthStore({ backend: tmp.backend, bcryptCost: 4 });
      s.userAdd({ name: 'root', password: '', hashedPassword: '', options: { noPassword: true } });
      s.userGrantRole({ user: 'root', role: 'root' });
      s.authEnable();
      const users = ['u0', 'u1', 'u2'];
      const roleNames = ['r0', 'r1', 'r2', 'r3'];
      for (const u of users) {
        s.userAdd({ name: u, password: '', hashedPassword: '', options: { noPassword: true } });
      }
      for (const r of roleNames) s.roleAdd({ name: r });
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
      for (let step = 0; step < 150; step++) {
        const op = rand();
        const role = pick(roleNames);
        const user = pick(users);
        try {
          if (op < 0.45) s.roleGrantPermission({ name: role, perm: randomPermission(rand) });
          else if (op < 0.6) {
            const perms = s.roleGet({ role }).perm;
            if (perms.length > 0) {
              const p = pick(perms);
              s.roleRevokePermission({ role, key: p.key, rangeEnd: p.rangeEnd });
            }
          } else if (op < 0.8) s.userGrantRole({ user, role });
          else if (op < 0.93) s.userRevokeRole({ name: user, role });
          else {
            s.roleDelete({ role });
            s.roleAdd({ name: role });
          }
        } catch (err) {
          // Revoking a role that was not granted is a legitimate refusal here.
          expect((err as Error).name).toBe('RoleNotGrantedError');
        }
        for (const u of users) {
          const perms = s.userGet({ name: u }).roles.flatMap((r) => s.roleGet({ role: r }).perm);
          const readRaw = perms.filter((p) => p.permType !== WRITE).map(rawInterval);
          const writeRaw = perms.filter((p) => p.permType !== READ).map(rawInterval);
          const info = { username: u, revision: s.revision };
          for (let q = 0; q < 20; q++) {
            const [key, end] = randomQuery(rand);
            const ok = (f: () => void) => {
              try {
                f();
                return true;
              } catch {
                return false;
              }
            };
            const ctx = `seed=${seed} step=${step} user=${u} key=${JSON.stringify(key)} end=${JSON.stringify(end)}`;
            expect(
              ok(() => s.isRangePermitted(info, b(key), b(end))),
              ctx,
            ).toBe(referencePermitted(readRaw, key, end));
            expect(
              ok(() => s.isDeleteRangePermitted(info, b(key), b(end))),
              ctx,
            ).toBe(referencePermitted(writeRaw, key, end));
            expect(
              ok(() => s.isPutPermitted(info, b(key))),
              ctx,
            ).toBe(referencePermitted(writeRaw, key, ''));
          }
        }
      }
    }, 120_000);
  });
});
