import { fileURLToPath } from 'node:url';

/** The directory holding this package's .proto files (for tools that load .proto at run time). */
export const PROTO_DIR: string = fileURLToPath(new URL('../proto/', import.meta.url));

/** Every .proto file of the package, relative to PROTO_DIR. */
export const PROTO_FILES: readonly string[] = [
  'authpb/auth.proto',
  'etcdserverpb/etcdserver.proto',
  'etcdserverpb/raft_internal.proto',
  'etcdserverpb/rpc.proto',
  'grpc/health/v1/health.proto',
  'leasepb/lease.proto',
  'membershippb/membership.proto',
  'mvccpb/kv.proto',
];
