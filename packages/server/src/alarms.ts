import { etcdserverpb } from '@etcd-ts/api';
import type { Backend } from '@etcd-ts/backend';

type AlarmMember = etcdserverpb.AlarmMember;
const AlarmType = etcdserverpb.AlarmType;

const ALARM_BUCKET = 'alarm';

/**
 * The raised alarms (etcd's alarm.AlarmStore): per alarm type, the members that raised
 * it. Each change is applied through consensus and persisted in the backend's alarm
 * bucket (key: the encoded AlarmMember), so a restarted member keeps refusing writes
 * while NOSPACE stands.
 */
export class AlarmStore {
  private readonly types = new Map<number, Map<bigint, AlarmMember>>();

  constructor(private readonly backend: Backend) {
    this.recover();
  }

  /** Reloads the alarms from the backend (after a snapshot from the leader replaced it). */
  recover(): void {
    this.backend.lock();
    this.backend.createBucket(ALARM_BUCKET);
    this.backend.unlock();
    this.types.clear();
    this.backend.forEach(ALARM_BUCKET, (k) => {
      this.add(etcdserverpb.AlarmMember.decode(k));
      return true;
    });
  }

  private add(m: AlarmMember): boolean {
    let members = this.types.get(m.alarm);
    if (members === undefined) {
      members = new Map();
      this.types.set(m.alarm, members);
    }
    if (members.has(m.memberID)) return false;
    members.set(m.memberID, m);
    return true;
  }

  /** Raises `alarm` for `memberId`; returns the new entry, or undefined if it stood already. */
  activate(memberId: bigint, alarm: etcdserverpb.AlarmType): AlarmMember | undefined {
    const m: AlarmMember = { memberID: memberId, alarm };
    if (!this.add(m)) return undefined;
    this.backend.lock();
    this.backend.put(ALARM_BUCKET, etcdserverpb.AlarmMember.encode(m).finish(), new Uint8Array(0));
    this.backend.unlock();
    return m;
  }

  /** Clears `alarm` for `memberId`; returns the entry removed, or undefined if none stood. */
  deactivate(memberId: bigint, alarm: etcdserverpb.AlarmType): AlarmMember | undefined {
    const members = this.types.get(alarm);
    const m = members?.get(memberId);
    if (members === undefined || m === undefined) return undefined;
    members.delete(memberId);
    this.backend.lock();
    this.backend.delete(ALARM_BUCKET, etcdserverpb.AlarmMember.encode(m).finish());
    this.backend.unlock();
    return m;
  }

  /** The alarms of one type, or every alarm for AlarmType.NONE. */
  get(alarm: etcdserverpb.AlarmType): AlarmMember[] {
    if (alarm !== AlarmType.NONE) return [...(this.types.get(alarm)?.values() ?? [])];
    const out: AlarmMember[] = [];
    for (const members of this.types.values()) out.push(...members.values());
    return out;
  }

  has(alarm: etcdserverpb.AlarmType): boolean {
    return (this.types.get(alarm)?.size ?? 0) > 0;
  }
}

/** etcd's text form of an alarm member (what Status lists in `errors`). */
export function alarmString(m: AlarmMember): string {
  const name = AlarmType[m.alarm] ?? String(m.alarm);
  return `memberID:${BigInt.asUintN(64, m.memberID).toString()} alarm:${name} `;
}
