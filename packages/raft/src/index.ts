// @etcd-ts/raft: the whole public API.

export * from './codec.js';
export * from './errors.js';
export { discardLogger, type Logger, RaftPanic } from './logger.js';
export * from './raftpb.js';
export { type InitialState, MemoryStorage, type Storage } from './storage.js';
export {
  describeMessage,
  isLocalMsg,
  isResponseMsg,
  limitSize,
  NO_LIMIT,
  payloadsSize,
} from './util.js';
