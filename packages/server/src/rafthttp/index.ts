// etcd's peer transport (rafthttp): what the rest of the server imports.

export type { PeerTLS } from './client.js';
export {
  ByteQueue,
  ERR_EXCEED_SIZE_LIMIT,
  encodeFrame,
  isLinkHeartbeat,
  linkHeartbeatMessage,
  MessageDecoder,
  MsgAppV2Decoder,
  MsgAppV2Encoder,
  RaftHttpCodecError,
} from './codec.js';
export type { RaftHandler, SnapshotDBStore } from './context.js';
export * from './limits.js';
export type { OutgoingSnapshot } from './pipeline.js';
export { Transport, type TransportConfig } from './transport.js';
export {
  checkVersionCompatibility,
  ERR_CLUSTER_ID_MISMATCH,
  ERR_INCOMPATIBLE_VERSION,
  ERR_MEMBER_NOT_FOUND,
  ERR_MEMBER_REMOVED,
  PeerHTTPError,
  PROBING_PATH,
  RAFT_PREFIX,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PREFIX,
  RaftHttpError,
  type StreamType,
  streamEndpoint,
} from './wire.js';
