// @etcd-ts/raft: the whole public API.

export * from './codec.js';
export { Changer, ConfChangeError, describeConfChanges } from './confchange/confchange.js';
export { restoreConfState } from './confchange/restore.js';
export * from './errors.js';
export { discardLogger, type Logger, RaftPanic } from './logger.js';
export { Node } from './node.js';
export { type JointConfig, jointCommittedIndex, jointVoteResult } from './quorum/joint.js';
export {
  type MajorityConfig,
  majorityCommittedIndex,
  majorityVoteResult,
} from './quorum/majority.js';
export { type AckedIndexer, INDEX_MAX, VoteResult } from './quorum/quorum.js';
export {
  appliedCursor,
  type Config,
  NONE,
  Raft,
  type SoftState,
  StateType,
  stateTypeName,
} from './raft.js';
export * from './raftpb.js';
export {
  confChangeEntry,
  mustSync,
  type Peer,
  type ProgressStatus,
  RawNode,
  type Ready,
  SnapshotStatus,
  type Status,
  statusString,
} from './rawnode.js';
export { ReadOnlyOption, type ReadState } from './read_only.js';
export { type InitialState, MemoryStorage, type Storage } from './storage.js';
export { Inflights } from './tracker/inflights.js';
export { Progress, ProgressState, progressStateName } from './tracker/progress.js';
export { ProgressTracker, type TrackerConfig, trackerConfigString } from './tracker/tracker.js';
export {
  describeMessage,
  isLocalMsg,
  isResponseMsg,
  limitSize,
  NO_LIMIT,
  payloadsSize,
} from './util.js';
