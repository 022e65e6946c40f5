import { Client, credentials, status } from '@grpc/grpc-js';
import { type Difference, diff, pathShape } from './compare.js';
import { type DivergenceContext, documentedDivergence } from './divergences.js';
import { formatOp, type JsonObject, type Op, opRpc } from './ops.js';
import type { Server } from './servers.js';
import { CHANNEL_OPTIONS, codeName, rawUnary } from './target.js';

/** What went wrong at one op of a sequence. */
export type FindingKind =
  /** The two servers answered differently (after normalising). */
  | 'divergence'
  /** apps/etcd exited. */
  | 'crash'
  /** apps/etcd stopped answering another client (the liveness probe). */
  | 'unresponsive'
  /** Debian's etcd exited (a bug of etcd 3.4's that apps/etcd need not copy). */
  | 'reference-crash';

export interface Finding {
  kind: FindingKind;
  /** The op's position in the sequence (0-based). */
  index: number;
  op: Op;
  reference: JsonObject;
  ours: JsonObject;
  differences: Difference[];
  /** The id of the entry of divergences.json that explains it, if one does. */
  documented?: string;
  /** What identifies "the same problem" while shrinking and when counting. */
  signature: string;
  /** The tail of the server's log (crashes). */
  log?: string;
}

export interface RunResult {
  /** Ops run (on both servers). */
  executed: number;
  findings: Finding[];
  /** Whether the sequence was cut short (a finding after which the states may differ, a crash, the deadline). */
  stoppedAt?: number;
}

export interface RunOptions {
  /** Stop at the first finding that is not documented. */
  stopAtFirst?: boolean;
  /** Stop when this time (ms since the epoch) has passed. */
  deadline?: number;
  /** Probe apps/etcd from another client at every check op. */
  probe?: boolean;
}

/** FUZZ_SLOW_MS=n prints every op that took longer than n ms on either server. */
const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 0);

/** RPCs that change nothing: after a divergence here both servers still hold the same state. */
const READ_ONLY = new Set([
  'KV.Range',
  'Lease.LeaseTimeToLive',
  'Lease.LeaseLeases',
  'Cluster.MemberList',
  'Maintenance.Status',
  'Maintenance.Hash',
  'Maintenance.HashKV',
  'Maintenance.Snapshot',
  'Maintenance.Defragment',
  'Auth.AuthStatus',
  'Auth.UserGet',
  'Auth.UserList',
  'Auth.RoleGet',
  'Auth.RoleList',
  'Health.Check',
  'Health.Watch',
]);

function signatureOf(kind: FindingKind, op: Op, differences: Difference[]): string {
  const shapes = [...new Set(differences.map((d) => pathShape(d.path)))].sort();
  return `${kind} ${opRpc(op)} ${shapes.join(',')}`;
}

/** Asks apps/etcd, from a fresh connection, whether it still answers (a health check). */
export async function probe(endpoint: string, timeoutMs = 5_000): Promise<string | undefined> {
  const client = new Client(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const r = await rawUnary(
      client,
      '/grpc.health.v1.Health/Check',
      Buffer.alloc(0),
      undefined,
      timeoutMs,
    );
    if (r.code !== status.OK) return `${codeName(r.code)}: ${r.details}`;
    return undefined;
  } finally {
    client.close();
  }
}

/** What a sequence runs on: one server (a real process, or a stand-in in tests). */
export type Runner = Pick<Server, 'alive'> & {
  target: Pick<Server['target'], 'run'>;
  process: Pick<Server['process'], 'endpoint' | 'logs'>;
};

function tail(s: Runner): string {
  return s.process.logs().split('\n').slice(-30).join('\n');
}

/**
 * Runs `ops` on both servers of `pair` in lock step (each op on both at once, the next when
 * both answered), compares the normalised answers, and reports what differs, which server
 * exited, and whether apps/etcd kept answering another client.
 */
export async function runSequence(
  pair: { reference: Runner; ours: Runner },
  ops: readonly Op[],
  options: RunOptions = {},
): Promise<RunResult> {
  const findings: Finding[] = [];
  const ref = pair.reference;
  const ours = pair.ours;
  const all = [...ops, { kind: 'check' } as Op];
  const alarms = new Set<string>();
  for (let i = 0; i < all.length; i++) {
    const referenceAlarm = alarms.size > 0;
    if (options.deadline !== undefined && Date.now() > options.deadline) {
      return { executed: i, findings, stoppedAt: i };
    }
    const op = all[i]!;
    // The implicit last check has index ops.length: its reproduction is every op.
    const index = i;
    const t0 = Date.now();
    const [a, b] = await Promise.all([ref.target.run(op), ours.target.run(op)]);
    if (SLOW_MS > 0 && Date.now() - t0 > SLOW_MS) {
      console.log(`  slow op (${Date.now() - t0} ms): ${formatOp(op).slice(0, 200)}`);
    }
    // A server that exited answers UNAVAILABLE; give the exit a moment to be noticed.
    if (isUnavailable(b) || isUnavailable(a)) await new Promise((r) => setTimeout(r, 200));
    if (!ours.alive()) {
      findings.push({
        kind: 'crash',
        index,
        op,
        reference: a,
        ours: b,
        differences: diff(a, b),
        signature: signatureOf('crash', op, []),
        log: tail(ours),
      });
      return { executed: i + 1, findings, stoppedAt: i };
    }
    const differences = diff(a, b);
    if (!ref.alive()) {
      const ctx: DivergenceContext = {
        op,
        reference: a,
        ours: b,
        differences,
        referenceCrashed: true,
        referenceAlarm,
      };
      const f: Finding = {
        kind: 'reference-crash',
        index,
        op,
        reference: a,
        ours: b,
        differences,
        signature: signatureOf('reference-crash', op, []),
        log: tail(ref),
      };
      const doc = documentedDivergence(ctx);
      if (doc !== undefined) f.documented = doc;
      findings.push(f);
      return { executed: i + 1, findings, stoppedAt: i };
    }
    trackAlarms(alarms, op, a);
    if (differences.length > 0) {
      const ctx: DivergenceContext = {
        op,
        reference: a,
        ours: b,
        differences,
        referenceCrashed: false,
        referenceAlarm,
      };
      const f: Finding = {
        kind: 'divergence',
        index,
        op,
        reference: a,
        ours: b,
        differences,
        signature: signatureOf('divergence', op, differences),
      };
      const doc = documentedDivergence(ctx);
      if (doc !== undefined) f.documented = doc;
      findings.push(f);
      // After a difference that may have left the two stores apart, nothing later compares.
      const stop = doc === undefined ? options.stopAtFirst === true : false;
      if (stop || !sameStateAfter(op, a, b, differences)) {
        return { executed: i + 1, findings, stoppedAt: i };
      }
    }
    if (op.kind === 'check' && options.probe !== false) {
      const p = await probe(ours.process.endpoint);
      if (p !== undefined) {
        findings.push({
          kind: 'unresponsive',
          index,
          op,
          reference: a,
          ours: { probe: p },
          differences: [],
          signature: signatureOf('unresponsive', op, []),
          log: tail(ours),
        });
        return { executed: i + 1, findings, stoppedAt: i };
      }
    }
  }
  return { executed: all.length, findings };
}

/**
 * The NOSPACE and CORRUPT alarms standing on etcd 3.4, as far as its answers tell: raised by
 * a refusal for space or an ACTIVATE it answered, cleared by a DEACTIVATE it answered.
 */
function trackAlarms(alarms: Set<string>, op: Op, a: JsonObject): void {
  if (/database space exceeded/.test(JSON.stringify(a))) alarms.add('self NOSPACE');
  if (op.kind !== 'call' || op.rpc !== 'Maintenance.Alarm' || a.code !== 'OK') return;
  const listed = ((a.resp as JsonObject | undefined)?.alarms as JsonObject[] | undefined) ?? [];
  const action = op.req.action;
  for (const m of listed) {
    const key = `${String(m.memberID ?? '0')} ${String(m.alarm ?? 'NONE')}`;
    if (!/NOSPACE|CORRUPT/.test(key)) continue;
    if (action === 'ACTIVATE' || action === 1) alarms.add(key);
    if (action === 'DEACTIVATE' || action === 2) alarms.delete(key);
  }
}

function isUnavailable(o: JsonObject): boolean {
  return o.code === 'UNAVAILABLE' || JSON.stringify(o).includes('UNAVAILABLE');
}

/**
 * Whether both servers surely hold the same state after an op they answered differently:
 * a read, or a request both refused (a refusal changes nothing).
 */
function sameStateAfter(op: Op, a: JsonObject, b: JsonObject, differences: Difference[]): boolean {
  // A refusal for lack of space raises the NOSPACE alarm: a change of state.
  if (/database space exceeded/.test(JSON.stringify([a, b]))) return false;
  if (READ_ONLY.has(opRpc(op)) || op.kind === 'close') return true;
  if (op.kind !== 'call') return false;
  if (a.code !== 'OK' && b.code !== 'OK') return true;
  // Both did it and only the texts or headers of their answers differ.
  return (
    a.code === b.code &&
    differences.every((d) => d.path === 'message' || d.path.startsWith('resp.header'))
  );
}
