import { etcdserverpb } from '@etcd-ts/api';
import type { AlarmStore } from '../alarms.js';
import { revisionHeader } from './kv.js';

const AlarmAction = etcdserverpb.AlarmRequest_AlarmAction;
const AlarmType = etcdserverpb.AlarmType;

/**
 * An AlarmRequest as a committed entry applies it (etcd's applierV3backend.Alarm): GET
 * lists, ACTIVATE raises (NONE is ignored), DEACTIVATE clears; `onChange` hears each
 * alarm raised or cleared.
 */
export function applyAlarm(
  alarms: AlarmStore,
  rev: number,
  ar: etcdserverpb.AlarmRequest,
  onChange: (m: etcdserverpb.AlarmMember, active: boolean) => void,
): etcdserverpb.AlarmResponse {
  const resp: etcdserverpb.AlarmResponse = { header: revisionHeader(rev), alarms: [] };
  switch (ar.action) {
    case AlarmAction.GET:
      resp.alarms = alarms.get(ar.alarm);
      break;
    case AlarmAction.ACTIVATE: {
      if (ar.alarm === AlarmType.NONE) break;
      const m = alarms.activate(ar.memberID, ar.alarm);
      if (m === undefined) break;
      resp.alarms.push(m);
      onChange(m, true);
      break;
    }
    case AlarmAction.DEACTIVATE: {
      const m = alarms.deactivate(ar.memberID, ar.alarm);
      if (m === undefined) break;
      resp.alarms.push(m);
      onChange(m, false);
      break;
    }
  }
  return resp;
}
