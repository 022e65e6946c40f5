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

  /** Prints with the printer for the output format; one without a printer is refused, as etcdctl does. */
  private show(printers: Partial<Record<OutputFormat, () => void>>): void {
    const print = printers[this.format];
    if (print === undefined) unsupported(this.format);
    print();
  }

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
    this.show({
      simple: () => {
        for (const k of r.kvs) this.kv(k);
      },
      json: () => this.json(J.range(r)),
      protobuf: () => this.pb(etcdserverpb.RangeResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        for (const k of r.kvs) this.fieldsKV('', k);
        this.line(`"More" : ${r.more}`);
        this.line(`"Count" : ${r.count}`);
      },
    });
  }

  put(r: etcdserverpb.PutResponse): void {
    this.show({
      simple: () => {
        this.line('OK');
        if (r.prevKv !== undefined) this.kv(r.prevKv);
      },
      json: () => this.json(J.put(r)),
      protobuf: () => this.pb(etcdserverpb.PutResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        if (r.prevKv !== undefined) this.fieldsKV('Prev', r.prevKv);
      },
    });
  }

  del(r: etcdserverpb.DeleteRangeResponse): void {
    this.show({
      simple: () => {
        this.line(String(r.deleted));
        for (const k of r.prevKvs) this.kv(k);
      },
      json: () => this.json(J.deleteRange(r)),
      protobuf: () => this.pb(etcdserverpb.DeleteRangeResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"Deleted" : ${r.deleted}`);
        for (const k of r.prevKvs) this.fieldsKV('Prev', k);
      },
    });
  }

  txn(r: etcdserverpb.TxnResponse): void {
    this.show({
      simple: () => {
        this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
        for (const o of r.responses) {
          this.line('');
          if (o.responseDeleteRange !== undefined) this.del(o.responseDeleteRange);
          else if (o.responsePut !== undefined) this.put(o.responsePut);
          else if (o.responseRange !== undefined) this.get(o.responseRange);
        }
      },
      json: () => this.json(J.txn(r)),
      protobuf: () => this.pb(etcdserverpb.TxnResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"Succeeded" : ${r.succeeded}`);
        for (const o of r.responses) {
          if (o.responseDeleteRange !== undefined) this.del(o.responseDeleteRange);
          else if (o.responsePut !== undefined) this.put(o.responsePut);
          else if (o.responseRange !== undefined) this.get(o.responseRange);
        }
      },
    });
  }

  watch(h: etcdserverpb.ResponseHeader, events: mvccpb.Event[]): void {
    this.show({
      simple: () => {
        for (const e of events) {
          this.line(EVENT_TYPES[e.type] ?? String(e.type));
          if (e.prevKv !== undefined) this.kv(e.prevKv);
          if (e.kv !== undefined) this.kv(e.kv);
        }
      },
      json: () => this.json(J.watch(h, events)),
      protobuf: () => {
        this.pb(
          etcdserverpb.WatchResponse,
          etcdserverpb.WatchResponse.fromPartial({ header: h, events }),
        );
      },
      fields: () => {
        this.fieldsHeader(h);
        for (const e of events) {
          this.line(`"Type" : ${EVENT_TYPES[e.type] ?? e.type}`);
          if (e.prevKv !== undefined) this.fieldsKV('Prev', e.prevKv);
          if (e.kv !== undefined) this.fieldsKV('', e.kv);
        }
      },
    });
  }

  // --- leases ---

  grant(r: etcdserverpb.LeaseGrantResponse): void {
    this.show({
      simple: () => this.line(`lease ${hexID(r.ID, 16)} granted with TTL(${r.TTL}s)`),
      json: () => this.json(J.leaseGrant(r)),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
      },
      protobuf: () => {
        throw new CliError(
          ExitCode.BadFeature,
          'marshal unsupported for type clientv3.LeaseGrantResponse',
        );
      },
    });
  }

  revoke(id: bigint, r: etcdserverpb.LeaseRevokeResponse): void {
    this.show({
      simple: () => this.line(`lease ${hexID(id, 16)} revoked`),
      json: () => this.json(J.headerOnly(r)),
      protobuf: () => this.pb(etcdserverpb.LeaseRevokeResponse, r),
      fields: () => this.fieldsHeader(r.header),
    });
  }

  keepAlive(r: etcdserverpb.LeaseKeepAliveResponse): void {
    this.show({
      simple: () => this.line(`lease ${hexID(r.ID, 16)} keepalived with TTL(${r.TTL})`),
      json: () => this.json(J.leaseKeepAlive(r)),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
      },
      protobuf: () => {
        throw new CliError(
          ExitCode.BadFeature,
          'marshal unsupported for type clientv3.LeaseKeepAliveResponse',
        );
      },
    });
  }

  timeToLive(r: etcdserverpb.LeaseTimeToLiveResponse, keys: boolean): void {
    this.show({
      simple: () => {
        if (r.grantedTTL === 0 && r.TTL === -1) {
          this.line(`lease ${hexID(r.ID, 16)} already expired`);
          return;
        }
        let s = `lease ${hexID(r.ID, 16)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
        if (keys) s += `, attached keys([${r.keys.map(utf8).join(' ')}])`;
        this.line(s);
      },
      json: () => this.json(J.leaseTimeToLive(r)),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"ID" : ${signed64(r.ID)}`);
        this.line(`"TTL" : ${r.TTL}`);
        this.line(`"GrantedTTL" : ${r.grantedTTL}`);
        for (const k of r.keys) this.line(`"Key" : ${goQuote(k)}`);
      },
      protobuf: () => this.pb(etcdserverpb.LeaseTimeToLiveResponse, r),
    });
  }

  leases(r: etcdserverpb.LeaseLeasesResponse): void {
    this.show({
      simple: () => {
        this.line(`found ${r.leases.length} leases`);
        for (const l of r.leases) this.line(hexID(l.ID, 16));
      },
      json: () => this.json(J.leaseLeases(r)),
      fields: () => {
        this.fieldsHeader(r.header);
        for (const l of r.leases) this.line(`"ID" : ${signed64(l.ID)}`);
      },
      protobuf: () => this.pb(etcdserverpb.LeaseLeasesResponse, r),
    });
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
    this.show({
      simple: () => {
        for (const row of this.memberRows(r)) this.line(row.join(', '));
      },
      json: () => this.json(J.members(r)),
      protobuf: () => this.pb(etcdserverpb.MemberListResponse, r),
      table: () =>
        this.io.out(
          renderTable(
            ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'],
            this.memberRows(r),
          ),
        ),
      fields: () => {
        this.fieldsHeader(r.header);
        for (const m of r.members) {
          this.line(`"ID" : ${BigInt.asUintN(64, m.ID)}`);
          this.line(`"Name" : ${goQuote(m.name)}`);
          for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
          for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
          this.line(`"IsLearner" : ${m.isLearner}`);
          this.line();
        }
      },
    });
  }

  private memberChange(
    verb: string,
    id: bigint,
    r: { header?: etcdserverpb.ResponseHeader | undefined; members: etcdserverpb.Member[] },
    codec: { encode(m: never): { finish(): Uint8Array } },
  ): void {
    this.show({
      simple: () =>
        this.line(`Member ${hexID16(id)} ${verb} cluster ${hexID16(r.header?.clusterId ?? 0n)}`),
      json: () => this.json(J.members(r)),
      protobuf: () => this.pb(codec, r as never),
    });
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
    this.show({
      simple: () => {
        for (const h of list) {
          if (h.error === '') {
            this.io.err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
          } else {
            this.io.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
          }
        }
      },
      json: () => {
        this.json(
          list.map((h) => ({
            endpoint: h.ep,
            health: h.health,
            took: h.took,
            error: h.error === '' ? undefined : h.error,
          })),
        );
      },
      table: () => this.io.out(renderTable(['endpoint', 'health', 'took', 'error'], rows)),
      fields: () => {
        for (const h of list) {
          this.line(`"Endpoint" : ${goQuote(h.ep)}`);
          this.line(`"Health" : ${h.health}`);
          this.line(`"Took" : ${h.took}`);
          this.line(`"Error" : ${h.error}`);
          this.line();
        }
      },
    });
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
    this.show({
      simple: () => {
        for (const row of rows) this.line(row.join(', '));
      },
      json: () => this.json(list.map(({ ep, resp }) => ({ Endpoint: ep, Status: J.status(resp) }))),
      table: () => {
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
      },
      fields: () => {
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
      },
    });
  }

  endpointHashKV(list: EndpointHashKV[]): void {
    const rows = list.map(({ ep, resp }) => [ep, String(resp.hash)]);
    this.show({
      simple: () => {
        for (const row of rows) this.line(row.join(', '));
      },
      json: () => this.json(list.map(({ ep, resp }) => ({ Endpoint: ep, HashKV: J.hashKV(resp) }))),
      table: () => this.io.out(renderTable(['endpoint', 'hash'], rows)),
      fields: () => {
        for (const { ep, resp } of list) {
          this.fieldsHeader(resp.header);
          this.line(`"Endpoint" : ${goQuote(ep)}`);
          this.line(`"Hash" : ${resp.hash}`);
          this.line();
        }
      },
    });
  }

  moveLeader(leader: bigint, target: bigint, _r: etcdserverpb.MoveLeaderResponse): void {
    this.show({
      simple: () => this.line(`Leadership transferred from ${hexID(leader)} to ${hexID(target)}`),
    });
  }

  alarm(r: etcdserverpb.AlarmResponse): void {
    this.show({
      simple: () => {
        for (const a of r.alarms) {
          this.line(`memberID:${BigInt.asUintN(64, a.memberID)} alarm:${ALARM_TYPES[a.alarm]} `);
        }
      },
      json: () => this.json(J.alarm(r)),
      protobuf: () => this.pb(etcdserverpb.AlarmResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        for (const a of r.alarms) {
          this.line(`"MemberID" : ${BigInt.asUintN(64, a.memberID)}`);
          this.line(`"AlarmType" : ${ALARM_TYPES[a.alarm]}`);
          this.line();
        }
      },
    });
  }

  dbStatus(s: DBStatus): void {
    const rows = [
      [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)],
    ];
    this.show({
      simple: () => {
        for (const row of rows) this.line(row.join(', '));
      },
      json: () => {
        this.json({
          hash: s.hash,
          revision: s.revision,
          totalKey: s.totalKey,
          totalSize: s.totalSize,
        });
      },
      table: () => this.io.out(renderTable(['hash', 'revision', 'total keys', 'total size'], rows)),
      fields: () => {
        this.line(`"Hash" : ${s.hash}`);
        this.line(`"Revision" : ${s.revision}`);
        this.line(`"Keys" : ${s.totalKey}`);
        this.line(`"Size" : ${s.totalSize}`);
      },
    });
  }

  // --- auth ---

  /** A result that simple prints as one sentence and the others as a header. */
  authMessage(
    sentence: string,
    r: { header?: etcdserverpb.ResponseHeader | undefined },
    codec: unknown,
    fields = true,
  ): void {
    this.show({
      simple: () => this.line(sentence),
      json: () => this.json(J.headerOnly(r)),
      protobuf: () => this.pb(codec as never, r as never),
      fields: () => {
        if (!fields) unsupported(this.format);
        this.fieldsHeader(r.header);
      },
    });
  }

  roleGet(role: string, r: etcdserverpb.AuthRoleGetResponse): void {
    this.show({
      simple: () => {
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
      },
      json: () => this.json(J.roleGet(r)),
      protobuf: () => this.pb(etcdserverpb.AuthRoleGetResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        for (const p of r.perm) {
          this.line(`"PermType" :  ${PERM_TYPES[p.permType]}`);
          this.line(`"Key" : ${goQuote(p.key)}`);
          this.line(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
        }
      },
    });
  }

  roleList(r: etcdserverpb.AuthRoleListResponse): void {
    this.show({
      simple: () => {
        for (const role of r.roles) this.line(role);
      },
      json: () => this.json(J.strings(r, 'roles', r.roles)),
      protobuf: () => this.pb(etcdserverpb.AuthRoleListResponse, r),
      fields: () => {
        this.fieldsHeader(r.header);
        this.line(`"Roles" :${r.roles.map((x) => ` ${goQuote(x)}`).join('')}`);
      },
    });
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
    this.show({
      simple: () => {
        this.line(`User: ${name}`);
        this.line(`Roles:${r.roles.map((x) => ` ${x}`).join('')}`);
      },
      json: () => this.json(J.strings(r, 'roles', r.roles)),
      protobuf: () => this.pb(etcdserverpb.AuthUserGetResponse, r),
    });
  }

  userList(r: etcdserverpb.AuthUserListResponse): void {
    this.show({
      simple: () => {
        for (const u of r.users) this.line(u);
      },
      json: () => this.json(J.strings(r, 'users', r.users)),
      protobuf: () => this.pb(etcdserverpb.AuthUserListResponse, r),
    });
  }
}
