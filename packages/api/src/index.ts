/**
 * @etcd-ts/api: etcd's v3 wire API. Each proto package is a namespace whose members are
 * the generated messages (an interface plus a codec value of the same name), enums and,
 * for etcdserverpb and grpc.health.v1, the @grpc/grpc-js service definitions
 * (`KVService`, ...) and client constructors (`KVClient`, ...).
 *
 * 64-bit ids (cluster, member, lease) are `bigint`; revisions, versions, terms, indexes,
 * counts, TTLs and sizes are `number` (decoding throws past Number.MAX_SAFE_INTEGER).
 *
 * `rpctypes` is etcd's table of client-facing errors (text and gRPC status code), shared
 * by the server that sends them and the clients that recognise them.
 */

export { type DeepPartial, encodeMessage, type MessageCodec } from './codec.js';
export * as authpb from './gen/authpb/auth.js';
export * as healthpb from './gen/grpc/health/v1/health.js';
export * as leasepb from './gen/leasepb/lease.js';
export * as membershippb from './gen/membershippb/membership.js';
export * as mvccpb from './gen/mvccpb/kv.js';
export * as etcdserverpb from './pb/etcdserverpb.js';
export { PROTO_DIR, PROTO_FILES } from './protos.js';
export * as rpctypes from './rpctypes.js';
