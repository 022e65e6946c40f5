/**
 * The fuzzer's request sequences. An op is plain JSON, so a sequence prints as a readable
 * script and replays from that script.
 *
 * A request may refer to what an earlier op created on the same server, resolved on each
 * server separately (the two servers pick different lease and member ids and tokens):
 *
 * - `{"$lease": k}` in an int64 field: the id the server answered to the LeaseGrant op
 *   saved as lease k (`save: {"lease": k}`);
 * - `{"$member": "self"}` / `{"$member": k}`: the server's own member id, or the id of the
 *   member the MemberAdd op saved as member k;
 * - `{"$url": "self-peer"}` / `{"$url": "self-client"}`: the server's own URLs.
 *
 * A ref nothing saved (the op that made it was shrunk away) resolves to a fixed id that no
 * server picks ({@link DANGLING_LEASE}), the same on both servers.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Which token a call carries: the last one `user` got from Authenticate, or a raw string. */
export type AuthRef = { user: string } | { raw: string };

/** What a call's answer saves for later ops. */
export type Save = { lease: number } | { member: number } | { token: string };

/** One unary or server-streaming call (server streams are read to their end). */
export interface CallOp {
  kind: 'call';
  /** `KV.Put`, `Maintenance.Snapshot`, `Health.Check`... */
  rpc: string;
  req: JsonObject;
  auth?: AuthRef;
  save?: Save;
}

/** Opens a bidirectional stream (Watch or LeaseKeepAlive) under a number of the sequence. */
export interface OpenOp {
  kind: 'open';
  stream: number;
  rpc: 'Watch.Watch' | 'Lease.LeaseKeepAlive';
  auth?: AuthRef;
}

/** Sends one request on an open stream (a stream not open is opened first, without token). */
export interface SendOp {
  kind: 'send';
  stream: number;
  rpc: 'Watch.Watch' | 'Lease.LeaseKeepAlive';
  req: JsonObject;
}

/** Half-closes (`end`) or cancels a stream and reads how it ends. */
export interface CloseOp {
  kind: 'close';
  stream: number;
  how: 'end' | 'cancel';
}

/** Waits for the watch streams to go quiet and compares the events of every watch id. */
export interface CheckOp {
  kind: 'check';
}

export type Op = CallOp | OpenOp | SendOp | CloseOp | CheckOp;

/** The lease id a `$lease` ref resolves to when nothing saved it: no server picks it. */
export const DANGLING_LEASE = '7046029254386353131';
/** The member id a `$member` ref resolves to when nothing saved it. */
export const DANGLING_MEMBER = '11936128518282651045';

/** The RPC an op exercises (for coverage and for a divergence's signature). */
export function opRpc(op: Op): string {
  switch (op.kind) {
    case 'call':
    case 'open':
    case 'send':
      return op.rpc;
    case 'close':
      return 'close';
    case 'check':
      return 'check';
  }
}

function short(v: Json): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'string' && x.length > 120 ? `${x.slice(0, 60)}…(${x.length} chars)` : x,
  );
}

/** One op as one line of a script: `KV.Put {"key":"a"} as u1 -> lease 2`. */
export function formatOp(op: Op): string {
  const auth =
    'auth' in op && op.auth !== undefined
      ? 'user' in op.auth
        ? ` token(${op.auth.user})`
        : ` rawtoken(${JSON.stringify(op.auth.raw)})`
      : '';
  switch (op.kind) {
    case 'call': {
      const save =
        op.save === undefined
          ? ''
          : 'lease' in op.save
            ? ` => $lease ${op.save.lease}`
            : 'member' in op.save
              ? ` => $member ${op.save.member}`
              : ` => token(${op.save.token})`;
      return `${op.rpc} ${short(op.req)}${auth}${save}`;
    }
    case 'open':
      return `open stream ${op.stream} ${op.rpc}${auth}`;
    case 'send':
      return `stream ${op.stream} ${op.rpc} <- ${short(op.req)}`;
    case 'close':
      return `close stream ${op.stream} (${op.how})`;
    case 'check':
      return 'check watch events';
  }
}

export function formatScript(ops: readonly Op[]): string {
  return ops.map((op, i) => `${String(i + 1).padStart(4)}. ${formatOp(op)}`).join('\n');
}
