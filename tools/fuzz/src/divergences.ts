import { readFileSync } from 'node:fs';
import { type Difference, diff } from './compare.js';
import type { JsonObject, Op } from './ops.js';
import { bytesOf } from './proto.js';

/** One entry of divergences.json. */
export interface DocumentedDivergence {
  id: string;
  /** The RPCs it concerns. */
  rpcs: string[];
  /** What etcd 3.4.23 answers. */
  reference: string;
  /** What apps/etcd answers. */
  ours: string;
  /** Why apps/etcd answers differently on purpose. */
  reason: string;
  /** The etcd release, fix or advisory apps/etcd follows. */
  upstream: string;
}

/** What a matcher sees: the op and both normalised answers. */
export interface DivergenceContext {
  op: Op;
  reference: JsonObject;
  ours: JsonObject;
  differences: Difference[];
  /** Debian's etcd exited at this op. */
  referenceCrashed: boolean;
  /** A NOSPACE or CORRUPT alarm stood on etcd 3.4 before this op, as its answers showed. */
  referenceAlarm?: boolean;
}

export const DIVERGENCES: readonly DocumentedDivergence[] = (
  JSON.parse(readFileSync(new URL('../divergences.json', import.meta.url), 'utf8')) as {
    divergences: DocumentedDivergence[];
  }
).divergences;

/**
 * The matcher of each documented divergence: true exactly when the op and answers are that
 * divergence and nothing else (every difference must be explained by it).
 */
export const MATCHERS: Record<string, (c: DivergenceContext) => boolean> = {
  'lease-timetolive-keys-permission': (c) => {
    if (c.op.kind !== 'call' || c.op.rpc !== 'Lease.LeaseTimeToLive' || c.op.req.keys !== true) {
      return false;
    }
    const keys = (c.reference.resp as JsonObject | undefined)?.keys;
    return (
      !c.referenceCrashed &&
      c.reference.code === 'OK' &&
      Array.isArray(keys) &&
      keys.length > 0 &&
      (isError(c.ours, 'PERMISSION_DENIED', 'etcdserver: permission denied') ||
        isError(c.ours, 'INVALID_ARGUMENT', 'etcdserver: user name is empty') ||
        isError(c.ours, 'UNAUTHENTICATED', 'etcdserver: invalid auth token') ||
        isError(c.ours, 'FAILED_PRECONDITION', 'etcdserver: revision of auth store is old'))
    );
  },

  'etcd-3.5-rpcs': (c) =>
    c.op.kind === 'call' &&
    (c.op.rpc === 'Auth.AuthStatus' || c.op.rpc === 'Maintenance.Downgrade') &&
    !c.referenceCrashed &&
    c.reference.code === 'UNIMPLEMENTED',

  'empty-permission-range': (c) => {
    if (c.op.kind !== 'call' || c.op.rpc !== 'Auth.RoleGrantPermission' || c.referenceCrashed) {
      return false;
    }
    const perm = c.op.req.perm as JsonObject | undefined;
    if (perm === undefined) return false;
    const key = bytesOf(perm.key ?? '');
    const end = bytesOf(perm.range_end ?? '');
    const valid =
      key.length > 0 &&
      (end.length === 0 || Buffer.compare(key, end) < 0 || (end.length === 1 && end[0] === 0));
    return (
      !valid &&
      isError(c.ours, 'INVALID_ARGUMENT', 'etcdserver: invalid auth management') &&
      (c.reference.code === 'OK' ||
        isError(c.reference, 'FAILED_PRECONDITION', 'etcdserver: role name not found'))
    );
  },

  'grant-nil-permission': (c) =>
    c.op.kind === 'call' &&
    c.op.rpc === 'Auth.RoleGrantPermission' &&
    c.op.req.perm === undefined &&
    c.referenceCrashed &&
    isError(c.ours, 'INVALID_ARGUMENT', 'etcdserver: permission not given'),

  'alarm-activate-none': (c) => {
    if (c.op.kind !== 'call' || c.op.rpc !== 'Maintenance.Alarm') return false;
    const { action, alarm } = c.op.req;
    if (
      !(action === 'ACTIVATE' || action === 1) ||
      !(alarm === undefined || alarm === 'NONE' || alarm === 0)
    ) {
      return false;
    }
    const resp = c.ours.resp as JsonObject | undefined;
    if (c.ours.code !== 'OK' || resp === undefined || resp.alarms !== undefined) return false;
    return c.referenceCrashed || c.differences.every((d) => d.path.startsWith('resp.alarms'));
  },

  'auth-kept-during-alarm': (c) => {
    if (c.op.kind !== 'call' || c.referenceAlarm !== true || c.referenceCrashed) return false;
    if (!APPLY_CHECKED.has(c.op.rpc)) return false;
    return (
      isAuthRefusal(c.ours) && !isAuthRefusal(c.reference) && c.reference.code !== 'UNAVAILABLE'
    );
  },

  'bcrypt-password-over-72-bytes': (c) =>
    c.op.kind === 'call' &&
    (c.op.rpc === 'Auth.UserAdd' || c.op.rpc === 'Auth.UserChangePassword') &&
    passwordBytes(c.op) > 72 &&
    (c.op.req.options as JsonObject | undefined)?.no_password !== true &&
    !c.referenceCrashed &&
    isError(c.ours, 'UNKNOWN', 'bcrypt: password length exceeds 72 bytes'),

  'progress-request-without-watchers': (c) => {
    if (c.referenceCrashed || (c.op.kind !== 'check' && c.op.kind !== 'close')) return false;
    // Per stream (a check) or for the closed stream: drop the progress answers etcd 3.4 sent
    // while the stream had no watcher (`alone`); then nothing else may differ.
    const strip = (ref: JsonObject, ours: JsonObject): [JsonObject, JsonObject] => {
      const out = { ...ref };
      const list = out['-1'];
      if (Array.isArray(list)) {
        const rest = list.filter((e) => !isLoneProgress(e));
        if (rest.length === 0) delete out['-1'];
        else out['-1'] = rest;
      }
      return [out, ours];
    };
    const rw = c.reference.watches as JsonObject | undefined;
    const ow = c.ours.watches as JsonObject | undefined;
    if (rw === undefined || ow === undefined) return false;
    let ref = c.reference;
    if (c.op.kind === 'close') {
      const [r] = strip(rw, ow);
      ref = { ...c.reference, watches: r };
    } else {
      const streams: JsonObject = {};
      for (const [n, v] of Object.entries(rw)) {
        const o = ow[n];
        streams[n] =
          o !== null &&
          typeof o === 'object' &&
          !Array.isArray(o) &&
          v !== null &&
          typeof v === 'object'
            ? strip(v as JsonObject, o as JsonObject)[0]
            : v;
      }
      ref = { ...c.reference, watches: streams };
    }
    const rest = diff(ref, c.ours);
    return rest.length === 0;
  },
};

/** The requests whose permission etcd checks as they apply (its authApplierV3). */
const APPLY_CHECKED = new Set([
  'KV.DeleteRange',
  'KV.Txn',
  'Lease.LeaseRevoke',
  'Auth.AuthEnable',
  'Auth.AuthDisable',
  'Auth.UserAdd',
  'Auth.UserDelete',
  'Auth.UserChangePassword',
  'Auth.UserGrantRole',
  'Auth.UserRevokeRole',
  'Auth.UserGet',
  'Auth.UserList',
  'Auth.RoleAdd',
  'Auth.RoleDelete',
  'Auth.RoleGet',
  'Auth.RoleList',
  'Auth.RoleGrantPermission',
  'Auth.RoleRevokePermission',
]);

function isAuthRefusal(o: JsonObject): boolean {
  return (
    isError(o, 'PERMISSION_DENIED', 'etcdserver: permission denied') ||
    isError(o, 'INVALID_ARGUMENT', 'etcdserver: user name is empty') ||
    isError(o, 'FAILED_PRECONDITION', 'etcdserver: revision of auth store is old')
  );
}

function isLoneProgress(e: unknown): boolean {
  return (
    e !== null &&
    typeof e === 'object' &&
    'progress' in (e as JsonObject) &&
    (e as JsonObject).alone === true
  );
}

/** A password's bytes as the generator writes it (a UTF-8 string). */
function passwordBytes(op: Op): number {
  if (op.kind !== 'call' || typeof op.req.password !== 'string') return 0;
  return Buffer.byteLength(op.req.password, 'utf8');
}

function isError(o: JsonObject, code: string, message: string): boolean {
  return o.code === code && o.message === message;
}

/** The id of the documented divergence this is, if any. */
export function documentedDivergence(c: DivergenceContext): string | undefined {
  for (const d of DIVERGENCES) {
    const m = MATCHERS[d.id];
    if (m?.(c) === true) return d.id;
  }
  return undefined;
}
