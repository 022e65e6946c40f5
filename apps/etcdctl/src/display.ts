// What each command prints, in each output format (-w simple|json|fields|table|protobuf),
// as etcdctl prints it.
import { authpb, encodeMessage, etcdserverpb, type mvccpb } from '@etcd-ts/api';
import { prefixEnd } from '@etcd-ts/client3';
import { CliError, ExitCode } from './errors.js';
import { type GoJSON, goJSON, goQuote, hexID, hexID16, humanizeBytes, signed64 } from './gofmt.js';
import * as J from './gojson.js';
import { renderTable } from './table.js';

export type OutputFormat = 'simple' | 'json' | 'fields' | 'table' | 'protobuf';

export interface Output {
  out(text: string | Uint8Array): void;
  err(text: string): void;
}

export interface EndpointHealth {
  ep: string;
  health: boolean;
  took: string;
  error: string;
}

export interface EndpointStatus {
  ep: string;
  resp: etcdserverpb.StatusResponse;
}

export interface EndpointHashKV {
  ep: string;
  resp: etcdserverpb.HashKVResponse;
}

export interface DBStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');

function hexEscaped(b: Uint8Array): string {
  return [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
}

function unsupported(format: OutputFormat): never {
  throw new CliError(ExitCode.BadFeature, `${format} not supported as output format`);
}

const EVENT_TYPES = ['PUT', 'DELETE'];
const ALARM_TYPES = ['NONE', 'NOSPACE', 'CORRUPT'];
const PERM_TYPES = ['READ', 'WRITE', 'READWRITE'];

/** The printer: one method per kind of result, switching on the output format. */
export class Display {
  valueOnly = false;

  constructor(
    readonly format: OutputFormat,
    readonly isHex: boolean,
    private readonly io: Output,
  ) {}

  private line(s = ''): void {
    this.io.out(`${s}\n`);
  }

  private json(v: GoJSON): void {
    this.line(goJSON(v));
  }

  private pb<T>(codec: { encode(m: T): { finish(): Uint8Array } }, message: T): void {
    this.io.out(encodeMessage(codec as never, message as never));
  }

  // --- simple-format building blocks ---

  private kv(k: mvccpb.KeyValue): void {
    // Go prints the bytes as they are; Node's stdout takes them as latin1 to keep them so.
    const key = this.isHex ? hexEscaped(k.key) : k.key;
    const value = this.isHex ? hexEscaped(k.value) : k.value;
    if (!this.valueOnly) this.rawLine(key);
    this.rawLine(value);
  }

  private rawLine(s: string | Uint8Array): void {
    if (typeof s === 'string') this.io.out(`${s}\n`);
    else this.io.out(Buffer.concat([Buffer.from(s), Buffer.from('\n')]));
  }

  private fieldsHeader(h: etcdserverpb.ResponseHeader | undefined): void {
    const x = h ?? { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
    this.line(`"ClusterID" : ${BigInt.asUintN(64, x.clusterId)}`);
    this.line(`"MemberID" : ${BigInt.asUintN(64, x.memberId)}`);
    this.line(`"Revision" : ${x.revision}`);
    this.line(`"RaftTerm" : ${x.raftTerm}`);
  }

  private fieldsKV(prefix: string, k: mvccpb.KeyValue): void {
    this.line(`"${prefix}Key" : ${goQuote(k.key)}`);
    this.line(`"${prefix}CreateRevision" : ${k.createRevision}`);
    this.line(`"${prefix}ModRevision" : ${k.modRevision}`);
    this.line(`"${prefix}Version" : ${k.version}`);
    this.line(`"${prefix}Value" : ${goQuote(k.value)}`);
    this.line(`"${prefix}Lease" : ${signed64(k.lease)}`);
  }

  // --- KV ---

  get(r: etcdserverpb.RangeResponse): void {
    switch (this.format) {
      case 'simple':
        for (const k of r.kvs) this.kv(k);
        return;
      case 'json':
        this.json(J.range(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.RangeResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const k of r.kvs) this.fieldsKV('', k);
        this.line(`"More" : ${r.more}`);
        this.line(`"Count" : ${r.count}`);
        return;
      default:
        unsupported(this.format);
    }
  }

  put(r: etcdserverpb.PutResponse): void {
    switch (this.format) {
      case 'simple':
        this.line('OK');
        if (r.prevKv !== undefined) this.kv(r.prevKv);
        return;
      case 'json':
        this.json(J.put(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.PutResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        if (r.prevKv !== undefined) this.fieldsKV('Prev', r.prevKv);
        return;
      default:
        unsupported(this.format);
    }
  }

  del(r: etcdserverpb.DeleteRangeResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(String(r.deleted));
        for (const k of r.prevKvs) this.kv(k);
        return;
      case 'json':
        this.json(J.deleteRange(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.DeleteRangeResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"Deleted" : ${r.deleted}`);
        for (const k of r.prevKvs) this.fieldsKV('Prev', k);
        return;
      default:
        unsupported(this.format);
    }
  }

  txn(r: etcdserverpb.TxnResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
        for (const o of r.responses) {
          this.line('');
          if (o.responseDeleteRange !== undefined) this.del(o.responseDeleteRange);
          else if (o.responsePut !== undefined) this.put(o.responsePut);
          else if (o.responseRange !== undefined) this.get(o.responseRange);
        }
        return;
      case 'json':
        this.json(J.txn(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.TxnResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"Succeeded" : ${r.succeeded}`);
        for (const o of r.responses) {
          if (o.responseDeleteRange !== undefined) this.del(o.responseDeleteRange);
          else if (o.responsePut !== undefined) this.put(o.responsePut);
          else if (o.responseRange !== undefined) this.get(o.responseRange);
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  watch(h: etcdserverpb.ResponseHeader, events: mvccpb.Event[]): void {
    switch (this.format) {
      case 'simple':
        for (const e of events) {
          this.line(EVENT_TYPES[e.type] ?? String(e.type));
          if (e.prevKv !== undefined) this.kv(e.prevKv);
          if (e.kv !== undefined) this.kv(e.kv);
        }
        return;
      case 'json':
        this.json(J.watch(h, events));
        return;
      case 'protobuf':
        this.pb(
          etcdserverpb.WatchResponse,
          etcdserverpb.WatchResponse.fromPartial({ header: h, events }),
        );
        return;
      case 'fields':
        this.fieldsHeader(h);
        for (const e of events) {
          this.line(`"Type" : ${EVENT_TYPES[e.type] ?? e.type}`);
          if (e.prevKv !== undefined) this.fieldsKV('Prev', e.prevKv);
          if (e.kv !== undefined) this.fieldsKV('', e.kv);
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  // --- leases ---

  grant(r: etcdserverpb.LeaseGrantResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`lease ${hexID(r.ID, 16)} granted with TTL(${r.TTL}s)`);
        return;
      case 'json':
        this.json(J.leaseGrant(r));
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
        return;
      case 'protobuf':
        throw new CliError(
          ExitCode.BadFeature,
          'marshal unsupported for type clientv3.LeaseGrantResponse',
        );
      default:
        unsupported(this.format);
    }
  }

  revoke(id: bigint, r: etcdserverpb.LeaseRevokeResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`lease ${hexID(id, 16)} revoked`);
        return;
      case 'json':
        this.json(J.headerOnly(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.LeaseRevokeResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        return;
      default:
        unsupported(this.format);
    }
  }

  keepAlive(r: etcdserverpb.LeaseKeepAliveResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`lease ${hexID(r.ID, 16)} keepalived with TTL(${r.TTL})`);
        return;
      case 'json':
        this.json(J.leaseKeepAlive(r));
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
        return;
      case 'protobuf':
        throw new CliError(
          ExitCode.BadFeature,
          'marshal unsupported for type clientv3.LeaseKeepAliveResponse',
        );
      default:
        unsupported(this.format);
    }
  }

  timeToLive(r: etcdserverpb.LeaseTimeToLiveResponse, keys: boolean): void {
    switch (this.format) {
      case 'simple': {
        if (r.grantedTTL === 0 && r.TTL === -1) {
          this.line(`lease ${hexID(r.ID, 16)} already expired`);
          return;
        }
        let s = `lease ${hexID(r.ID, 16)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
        if (keys) s += `, attached keys([${r.keys.map(utf8).join(' ')}])`;
        this.line(s);
        return;
      }
      case 'json':
        this.json(J.leaseTimeToLive(r));
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
        this.line(`"GrantedTTL" : ${r.grantedTTL}`);
        for (const k of r.keys) this.line(`"Key" : ${goQuote(k)}`);
        return;
      case 'protobuf':
        this.pb(etcdserverpb.LeaseTimeToLiveResponse, r);
        return;
      default:
        unsupported(this.format);
    }
  }

  leases(r: etcdserverpb.LeaseLeasesResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`found ${r.leases.length} leases`);
        for (const l of r.leases) this.line(hexID(l.ID, 16));
        return;
      case 'json':
        this.json(J.leaseLeases(r));
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const l of r.leases) this.line(`"ID" : ${signed64(l.ID)}`);
        return;
      case 'protobuf':
        this.pb(etcdserverpb.LeaseLeasesResponse, r);
        return;
      default:
        unsupported(this.format);
    }
  }

  // --- members ---

  private memberRows(r: etcdserverpb.MemberListResponse): string[][] {
    return r.members.map((m) => [
      hexID(m.ID),
      m.name === '' ? 'unstarted' : 'started',
      m.name,
      m.peerURLs.join(','),
      m.clientURLs.join(','),
      m.isLearner ? 'true' : 'false',
    ]);
  }

  memberList(r: etcdserverpb.MemberListResponse): void {
    switch (this.format) {
      case 'simple':
        for (const row of this.memberRows(r)) this.line(row.join(', '));
        return;
      case 'json':
        this.json(J.members(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.MemberListResponse, r);
        return;
      case 'table':
        this.io.out(
          renderTable(
            ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'],
            this.memberRows(r),
          ),
        );
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const m of r.members) {
          this.line(`"ID" : ${BigInt.asUintN(64, m.ID)}`);
          this.line(`"Name" : ${goQuote(m.name)}`);
          for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
          for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
          this.line(`"IsLearner" : ${m.isLearner}`);
          this.line();
        }
        return;
    }
  }

  private memberChange(
    verb: string,
    id: bigint,
    r: { header?: etcdserverpb.ResponseHeader | undefined; members: etcdserverpb.Member[] },
    codec: { encode(m: never): { finish(): Uint8Array } },
  ): void {
    switch (this.format) {
      case 'simple':
        this.line(`Member ${hexID16(id)} ${verb} cluster ${hexID16(r.header?.clusterId ?? 0n)}`);
        return;
      case 'json':
        this.json(J.members(r));
        return;
      case 'protobuf':
        this.pb(codec, r as never);
        return;
      default:
        unsupported(this.format);
    }
  }

  memberAdd(r: etcdserverpb.MemberAddResponse): void {
    if (this.format === 'json') {
      this.json(J.memberAdd(r));
      return;
    }
    if (this.format === 'protobuf') {
      this.pb(etcdserverpb.MemberAddResponse, r);
      return;
    }
    this.memberChange('added to', r.member?.ID ?? 0n, r, etcdserverpb.MemberAddResponse as never);
  }

  memberRemove(id: bigint, r: etcdserverpb.MemberRemoveResponse): void {
    this.memberChange('removed from', id, r, etcdserverpb.MemberRemoveResponse as never);
  }

  memberUpdate(id: bigint, r: etcdserverpb.MemberUpdateResponse): void {
    this.memberChange('updated in', id, r, etcdserverpb.MemberUpdateResponse as never);
  }

  memberPromote(id: bigint, r: etcdserverpb.MemberPromoteResponse): void {
    if (this.format === 'json' || this.format === 'protobuf') {
      // clientv3's printerRPC has no MemberPromote: json and protobuf fall back to unsupported.
      unsupported(this.format);
    }
    this.memberChange('promoted in', id, r, etcdserverpb.MemberPromoteResponse as never);
  }

  // --- endpoints ---

  endpointHealth(list: EndpointHealth[]): void {
    const rows = list.map((h) => [h.ep, String(h.health), h.took, h.error]);
    switch (this.format) {
      case 'simple':
        for (const h of list) {
          if (h.error === '') {
            this.io.err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
          } else {
            this.io.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
          }
        }
        return;
      case 'json':
        this.json(
          list.map((h) => ({
            endpoint: h.ep,
            health: h.health,
            took: h.took,
            error: h.error === '' ? undefined : h.error,
          })),
        );
        return;
      case 'table':
        this.io.out(renderTable(['endpoint', 'health', 'took', 'error'], rows));
        return;
      case 'fields':
        for (const h of list) {
          this.line(`"Endpoint" : ${goQuote(h.ep)}`);
          this.line(`"Health" : ${h.health}`);
          this.line(`"Took" : ${h.took}`);
          this.line(`"Error" : ${h.error}`);
          this.line();
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  endpointStatus(list: EndpointStatus[]): void {
    const rows = list.map(({ ep, resp }) => [
      ep,
      hexID(resp.header?.memberId ?? 0n),
      resp.version,
      humanizeBytes(resp.dbSize),
      String(resp.leader === resp.header?.memberId),
      String(resp.isLearner),
      String(resp.raftTerm),
      String(resp.raftIndex),
      String(resp.raftAppliedIndex),
      resp.errors.join(', '),
    ]);
    switch (this.format) {
      case 'simple':
        for (const row of rows) this.line(row.join(', '));
        return;
      case 'json':
        this.json(list.map(({ ep, resp }) => ({ Endpoint: ep, Status: J.status(resp) })));
        return;
      case 'table':
        this.io.out(
          renderTable(
            [
              'endpoint',
              'ID',
              'version',
              'db size',
              'is leader',
              'is learner',
              'raft term',
              'raft index',
              'raft applied index',
              'errors',
            ],
            rows,
          ),
        );
        return;
      case 'fields':
        for (const { ep, resp } of list) {
          this.fieldsHeader(resp.header);
          this.line(`"Version" : ${goQuote(resp.version)}`);
          this.line(`"DBSize" : ${resp.dbSize}`);
          this.line(`"Leader" : ${BigInt.asUintN(64, resp.leader)}`);
          this.line(`"IsLearner" : ${resp.isLearner}`);
          this.line(`"RaftIndex" : ${resp.raftIndex}`);
          this.line(`"RaftTerm" : ${resp.raftTerm}`);
          this.line(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
          this.line(`"Errors" : [${resp.errors.join(' ')}]`);
          this.line(`"Endpoint" : ${goQuote(ep)}`);
          this.line();
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  endpointHashKV(list: EndpointHashKV[]): void {
    const rows = list.map(({ ep, resp }) => [ep, String(resp.hash)]);
    switch (this.format) {
      case 'simple':
        for (const row of rows) this.line(row.join(', '));
        return;
      case 'json':
        this.json(list.map(({ ep, resp }) => ({ Endpoint: ep, HashKV: J.hashKV(resp) })));
        return;
      case 'table':
        this.io.out(renderTable(['endpoint', 'hash'], rows));
        return;
      case 'fields':
        for (const { ep, resp } of list) {
          this.fieldsHeader(resp.header);
          this.line(`"Endpoint" : ${goQuote(ep)}`);
          this.line(`"Hash" : ${resp.hash}`);
          this.line();
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  moveLeader(leader: bigint, target: bigint, r: etcdserverpb.MoveLeaderResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`Leadership transferred from ${hexID(leader)} to ${hexID(target)}`);
        return;
      default:
        unsupported(this.format);
    }
    void r;
  }

  alarm(r: etcdserverpb.AlarmResponse): void {
    switch (this.format) {
      case 'simple':
        for (const a of r.alarms) {
          this.line(`memberID:${BigInt.asUintN(64, a.memberID)} alarm:${ALARM_TYPES[a.alarm]} `);
        }
        return;
      case 'json':
        this.json(J.alarm(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.AlarmResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const a of r.alarms) {
          this.line(`"MemberID" : ${BigInt.asUintN(64, a.memberID)}`);
          this.line(`"AlarmType" : ${ALARM_TYPES[a.alarm]}`);
          this.line();
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  dbStatus(s: DBStatus): void {
    const rows = [
      [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)],
    ];
    switch (this.format) {
      case 'simple':
        for (const row of rows) this.line(row.join(', '));
        return;
      case 'json':
        this.json({
          hash: s.hash,
          revision: s.revision,
          totalKey: s.totalKey,
          totalSize: s.totalSize,
        });
        return;
      case 'table':
        this.io.out(renderTable(['hash', 'revision', 'total keys', 'total size'], rows));
        return;
      case 'fields':
        this.line(`"Hash" : ${s.hash}`);
        this.line(`"Revision" : ${s.revision}`);
        this.line(`"Keys" : ${s.totalKey}`);
        this.line(`"Size" : ${s.totalSize}`);
        return;
      default:
        unsupported(this.format);
    }
  }

  // --- auth ---

  /** A result that simple prints as one sentence and the others as a header. */
  authMessage(
    sentence: string,
    r: { header?: etcdserverpb.ResponseHeader | undefined },
    codec: unknown,
    fields = true,
  ): void {
    switch (this.format) {
      case 'simple':
        this.line(sentence);
        return;
      case 'json':
        this.json(J.headerOnly(r));
        return;
      case 'protobuf':
        this.pb(codec as never, r as never);
        return;
      case 'fields':
        if (!fields) unsupported(this.format);
        this.fieldsHeader(r.header);
        return;
      default:
        unsupported(this.format);
    }
  }

  roleGet(role: string, r: etcdserverpb.AuthRoleGetResponse): void {
    switch (this.format) {
      case 'simple': {
        this.line(`Role ${role}`);
        const printPerm = (p: authpb.Permission) => {
          if (p.rangeEnd.length === 0) {
            this.line(`\t${utf8(p.key)}`);
            return;
          }
          const key = utf8(p.key);
          const end = text(p.rangeEnd);
          let s = end !== '\0' ? `\t[${key}, ${utf8(p.rangeEnd)})` : `\t[${key}, <open ended>`;
          if (Buffer.from(prefixEnd(p.key)).equals(Buffer.from(p.rangeEnd)))
            s += ` (prefix ${key})`;
          this.line(s);
        };
        this.line('KV Read:');
        for (const p of r.perm) {
          if (
            p.permType === authpb.Permission_Type.READ ||
            p.permType === authpb.Permission_Type.READWRITE
          ) {
            printPerm(p);
          }
        }
        this.line('KV Write:');
        for (const p of r.perm) {
          if (
            p.permType === authpb.Permission_Type.WRITE ||
            p.permType === authpb.Permission_Type.READWRITE
          ) {
            printPerm(p);
          }
        }
        return;
      }
      case 'json':
        this.json(J.roleGet(r));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.AuthRoleGetResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const p of r.perm) {
          this.line(`"PermType" :  ${PERM_TYPES[p.permType]}`);
          this.line(`"Key" : ${goQuote(p.key)}`);
          this.line(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
        }
        return;
      default:
        unsupported(this.format);
    }
  }

  roleList(r: etcdserverpb.AuthRoleListResponse): void {
    switch (this.format) {
      case 'simple':
        for (const role of r.roles) this.line(role);
        return;
      case 'json':
        this.json(J.strings(r, 'roles', r.roles));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.AuthRoleListResponse, r);
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        this.line(`"Roles" :${r.roles.map((x) => ` ${goQuote(x)}`).join('')}`);
        return;
      default:
        unsupported(this.format);
    }
  }

  roleRevokePermission(
    role: string,
    key: string,
    end: string,
    r: etcdserverpb.AuthRoleRevokePermissionResponse,
  ): void {
    let sentence: string;
    if (end.length === 0) sentence = `Permission of key ${key} is revoked from role ${role}`;
    else if (end !== '\0')
      sentence = `Permission of range [${key}, ${end}) is revoked from role ${role}`;
    else sentence = `Permission of range [${key}, <open ended> is revoked from role ${role}`;
    this.authMessage(sentence, r, etcdserverpb.AuthRoleRevokePermissionResponse);
  }

  userGet(name: string, r: etcdserverpb.AuthUserGetResponse): void {
    switch (this.format) {
      case 'simple':
        this.line(`User: ${name}`);
        this.line(`Roles:${r.roles.map((x) => ` ${x}`).join('')}`);
        return;
      case 'json':
        this.json(J.strings(r, 'roles', r.roles));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.AuthUserGetResponse, r);
        return;
      default:
        unsupported(this.format);
    }
  }

  userList(r: etcdserverpb.AuthUserListResponse): void {
    switch (this.format) {
      case 'simple':
        for (const u of r.users) this.line(u);
        return;
      case 'json':
        this.json(J.strings(r, 'users', r.users));
        return;
      case 'protobuf':
        this.pb(etcdserverpb.AuthUserListResponse, r);
        return;
      default:
        unsupported(this.format);
    }
  }
}
