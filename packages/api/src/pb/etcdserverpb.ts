// The etcdserverpb package spans three .proto files; this module joins them into one
// namespace, as Go's etcdserverpb package does.
export * from '../gen/etcdserverpb/etcdserver.js';
export * from '../gen/etcdserverpb/raft_internal.js';
export * from '../gen/etcdserverpb/rpc.js';
