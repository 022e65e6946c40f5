import type { etcdserverpb } from '@etcd-ts/api';

/**
 * The response each kind of InternalRaftRequest is answered with once applied (what
 * apply/applier.ts dispatches to). The keys are InternalRaftRequest's fields; the
 * membership requests etcd 3.5 added answer with an empty message.
 */
export interface RaftResponses {
  range: etcdserverpb.RangeResponse;
  put: etcdserverpb.PutResponse;
  deleteRange: etcdserverpb.DeleteRangeResponse;
  txn: etcdserverpb.TxnResponse;
  compaction: etcdserverpb.CompactionResponse;
  leaseGrant: etcdserverpb.LeaseGrantResponse;
  leaseRevoke: etcdserverpb.LeaseRevokeResponse;
  leaseCheckpoint: etcdserverpb.LeaseCheckpointResponse;
  alarm: etcdserverpb.AlarmResponse;
  authEnable: etcdserverpb.AuthEnableResponse;
  authDisable: etcdserverpb.AuthDisableResponse;
  authStatus: etcdserverpb.AuthStatusResponse;
  authenticate: etcdserverpb.AuthenticateResponse;
  authUserAdd: etcdserverpb.AuthUserAddResponse;
  authUserDelete: etcdserverpb.AuthUserDeleteResponse;
  authUserGet: etcdserverpb.AuthUserGetResponse;
  authUserChangePassword: etcdserverpb.AuthUserChangePasswordResponse;
  authUserGrantRole: etcdserverpb.AuthUserGrantRoleResponse;
  authUserRevokeRole: etcdserverpb.AuthUserRevokeRoleResponse;
  authUserList: etcdserverpb.AuthUserListResponse;
  authRoleList: etcdserverpb.AuthRoleListResponse;
  authRoleAdd: etcdserverpb.AuthRoleAddResponse;
  authRoleDelete: etcdserverpb.AuthRoleDeleteResponse;
  authRoleGet: etcdserverpb.AuthRoleGetResponse;
  authRoleGrantPermission: etcdserverpb.AuthRoleGrantPermissionResponse;
  authRoleRevokePermission: etcdserverpb.AuthRoleRevokePermissionResponse;
  clusterVersionSet: etcdserverpb.EmptyResponse;
  clusterMemberAttrSet: etcdserverpb.EmptyResponse;
  downgradeInfoSet: etcdserverpb.EmptyResponse;
}
