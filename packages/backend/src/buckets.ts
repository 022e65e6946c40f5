/**
 * The buckets etcd keeps in its backend, by their on-disk names (bbolt bucket names in
 * etcd, LMDB named databases here). Callers may create further buckets by name.
 */
export const Bucket = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
  members: 'members',
  membersRemoved: 'members_removed',
  alarm: 'alarm',
  cluster: 'cluster',
} as const;

export type BucketName = string;

/** Every bucket etcd 3.5 creates, in the order its server creates them. */
export const ETCD_BUCKETS: readonly BucketName[] = Object.values(Bucket);
