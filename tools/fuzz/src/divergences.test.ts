import { describe, expect, it } from 'vitest';
import { diff } from './compare.js';
import { DIVERGENCES, documentedDivergence, MATCHERS } from './divergences.js';
import type { JsonObject, Op } from './ops.js';

const ctx = (op: Op, reference: JsonObject, ours: JsonObject, referenceCrashed = false) => ({
  op,
  reference,
  ours,
  differences: diff(reference, ours),
  referenceCrashed,
});

describe('divergences.json', () => {
  it('has one matcher per entry and one entry per matcher, each explained', () => {
    expect(DIVERGENCES.map((d) => d.id).sort()).toEqual(Object.keys(MATCHERS).sort());
    for (const d of DIVERGENCES) {
      for (const k of ['reference', 'ours', 'reason', 'upstream'] as const) {
        expect(d[k].length, `${d.id}.${k}`).toBeGreaterThan(10);
      }
      expect(d.rpcs.length).toBeGreaterThan(0);
    }
  });

  it('matches an empty permission range, and nothing else', () => {
    const op: Op = {
      kind: 'call',
      rpc: 'Auth.RoleGrantPermission',
      req: { name: 'r', perm: { key: 'b', range_end: 'a' } },
    };
    const ours = { code: 'INVALID_ARGUMENT', message: 'etcdserver: invalid auth management' };
    expect(documentedDivergence(ctx(op, { code: 'OK', resp: {} }, ours))).toBe(
      'empty-permission-range',
    );
    // A valid range refused the same way is a bug, not this divergence.
    const valid: Op = { ...op, req: { name: 'r', perm: { key: 'a', range_end: 'b' } } };
    expect(documentedDivergence(ctx(valid, { code: 'OK', resp: {} }, ours))).toBeUndefined();
    // "\0" is every key from `key` on: valid.
    const open: Op = { ...op, req: { name: 'r', perm: { key: 'a', range_end: '\u0000' } } };
    expect(documentedDivergence(ctx(open, { code: 'OK', resp: {} }, ours))).toBeUndefined();
  });

  it('matches the CVE-2023-32082 check only when the lease has keys to hide', () => {
    const op: Op = {
      kind: 'call',
      rpc: 'Lease.LeaseTimeToLive',
      req: { ID: { $lease: 1 }, keys: true },
    };
    const denied = { code: 'PERMISSION_DENIED', message: 'etcdserver: permission denied' };
    const withKeys = { code: 'OK', resp: { ID: 'lease#1', keys: ['k'] } };
    expect(documentedDivergence(ctx(op, withKeys, denied))).toBe(
      'lease-timetolive-keys-permission',
    );
    expect(
      documentedDivergence(ctx(op, { code: 'OK', resp: { ID: 'lease#1' } }, denied)),
    ).toBeUndefined();
    const noKeys: Op = { ...op, req: { ID: { $lease: 1 } } };
    expect(documentedDivergence(ctx(noKeys, withKeys, denied))).toBeUndefined();
  });

  it('matches auth kept during an alarm only while etcd 3.4 has one standing', () => {
    const op: Op = { kind: 'call', rpc: 'Auth.AuthDisable', req: {} };
    const ref = { code: 'OK', resp: {} };
    const ours = { code: 'INVALID_ARGUMENT', message: 'etcdserver: user name is empty' };
    expect(documentedDivergence({ ...ctx(op, ref, ours), referenceAlarm: true })).toBe(
      'auth-kept-during-alarm',
    );
    expect(documentedDivergence({ ...ctx(op, ref, ours), referenceAlarm: false })).toBeUndefined();
    const put: Op = { kind: 'call', rpc: 'KV.Range', req: { key: 'a' } };
    expect(documentedDivergence({ ...ctx(put, ref, ours), referenceAlarm: true })).toBeUndefined();
  });

  it('matches progress answers only when they came to a stream without watchers', () => {
    const op: Op = { kind: 'check' };
    const lone = {
      watches: { '1': { '0': [{ created: true }], '-1': [{ progress: 1, alone: true }] } },
    };
    const withWatchers = {
      watches: { '1': { '0': [{ created: true }], '-1': [{ progress: 1 }] } },
    };
    const ours = { watches: { '1': { '0': [{ created: true }] } } };
    expect(documentedDivergence(ctx(op, lone, ours))).toBe('progress-request-without-watchers');
    expect(documentedDivergence(ctx(op, withWatchers, ours))).toBeUndefined();
  });

  it('matches etcd 3.5 RPCs only where etcd 3.4 does not have them', () => {
    const op: Op = { kind: 'call', rpc: 'Auth.AuthStatus', req: {} };
    const unimpl = {
      code: 'UNIMPLEMENTED',
      message: 'unknown method AuthStatus for service etcdserverpb.Auth',
    };
    expect(documentedDivergence(ctx(op, unimpl, { code: 'OK', resp: {} }))).toBe('etcd-3.5-rpcs');
    const put: Op = { kind: 'call', rpc: 'KV.Put', req: { key: 'a' } };
    expect(documentedDivergence(ctx(put, unimpl, { code: 'OK', resp: {} }))).toBeUndefined();
  });

  it('matches an ignored NONE alarm only when nothing else differs', () => {
    const op: Op = {
      kind: 'call',
      rpc: 'Maintenance.Alarm',
      req: { action: 'ACTIVATE', memberID: 0 },
    };
    expect(documentedDivergence(ctx(op, {}, { code: 'OK', resp: { header: {} } }, true))).toBe(
      'alarm-activate-none',
    );
    const ref = { code: 'OK', resp: { alarms: [{ memberID: 'self' }] } };
    expect(documentedDivergence(ctx(op, ref, { code: 'OK', resp: {} }))).toBe(
      'alarm-activate-none',
    );
    // A header that one has and the other not is another divergence.
    expect(
      documentedDivergence(ctx(op, ref, { code: 'OK', resp: { header: {} } })),
    ).toBeUndefined();
  });
});
