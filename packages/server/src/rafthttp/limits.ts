// The peer transport's named limits and timings, each etcd 3.4's own value unless said
// otherwise (etcdserver/api/rafthttp). Every queue and buffer of the transport is bounded
// by one of these.

/** Messages a stream writer holds for its peer before send() drops (etcd's streamBufSize). */
export const STREAM_BUF_SIZE = 4096;
/** Messages the pipeline holds before send() drops (etcd's pipelineBufSize). */
export const PIPELINE_BUF_SIZE = 64;
/** Concurrent POST /raft requests per peer (etcd's connPerPipeline). */
export const CONN_PER_PIPELINE = 4;
/** Received messages waiting for raft, per peer (etcd's recvBufSize). */
export const RECV_BUF_SIZE = 4096;
/** Received proposals (MsgProp) waiting for raft, per peer (etcd's maxPendingProposals). */
export const MAX_PENDING_PROPOSALS = 4096;

/**
 * A stream that reads nothing for this long is broken (etcd's ConnReadTimeout, the read
 * deadline of its timeout listener and stream round tripper).
 */
export const CONN_READ_TIMEOUT_MS = 5000;
/** A stream write that cannot complete for this long breaks the stream (ConnWriteTimeout). */
export const CONN_WRITE_TIMEOUT_MS = 5000;
/** A stream writer sends a link heartbeat this often, so the reader's deadline never fires. */
export const LINK_HEARTBEAT_INTERVAL_MS = Math.floor(CONN_READ_TIMEOUT_MS / 3);
/** At most one stream dial per stream every this many ms (etcd's DialRetryFrequency). */
export const DIAL_RETRY_INTERVAL_MS = 100;
/**
 * How long a connection may take to open. etcd uses 1 s plus the election timeout
 * (peerDialTimeout); this is that with the default 1000 ms election timeout.
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 2000;
/** The answer to a snapshot POST must arrive this soon once its headers are in. */
export const SNAP_RESPONSE_READ_TIMEOUT_MS = 5000;

/**
 * The largest message a stream frame or a pipeline body may carry (etcd's readBytesLimit,
 * 512 MiB). etcd 3.4 reads a pipeline body and a snapshot's message with no bound at
 * all; both are bounded here by this same figure.
 */
export const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
/** Messages a stream writer encodes into one write (etcd flushes after streamBufSize/2). */
export const MAX_BATCH_MESSAGES = STREAM_BUF_SIZE / 2;
/**
 * Bytes a stream writer encodes into one write, beyond which it writes and waits for the
 * socket: what the writer holds encoded is at most this plus one message.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** How much of an error answer (412, 500...) is read; etcd's are one short line. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/**
 * Database snapshots being sent to one peer at a time. etcd starts a goroutine per
 * snapshot; raft never asks for a second while the first is unreported, so one suffices
 * and a second is refused (reported failed) rather than queued.
 */
export const MAX_SNAPSHOTS_IN_FLIGHT = 1;
