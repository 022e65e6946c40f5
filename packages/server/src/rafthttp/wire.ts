// The HTTP face of etcd's peer protocol: paths, headers, refusal texts and status codes,
// version rules, and the small formats (ids, sizes, times) that go in logs and answers.
// Pure functions only; the handlers and clients apply them.

import type { IncomingHttpHeaders } from 'node:http';

export const RAFT_PREFIX = '/raft';
export const PROBING_PATH = '/raft/probing';
export const RAFT_STREAM_PREFIX = '/raft/stream';
export const RAFT_SNAPSHOT_PATH = '/raft/snapshot';

/** The two stream kinds; note that msgappv2 is served at /raft/stream/msgapp/<from>. */
export type StreamType = 'message' | 'msgappv2';

export function streamEndpoint(t: StreamType): string {
  return t === 'msgappv2' ? `${RAFT_STREAM_PREFIX}/msgapp` : `${RAFT_STREAM_PREFIX}/message`;
}

/** How etcd names a stream kind in its logs (stream-reader-type, stream-writer-type). */
export function streamTypeName(t: StreamType): string {
  return t === 'msgappv2' ? 'stream MsgApp v2' : 'stream Message';
}

// Headers, as Go writes them (Node reads them back in lower case).
export const H_CLUSTER_ID = 'X-Etcd-Cluster-ID';
export const H_SERVER_FROM = 'X-Server-From';
export const H_SERVER_VERSION = 'X-Server-Version';
export const H_MIN_CLUSTER_VERSION = 'X-Min-Cluster-Version';
export const H_RAFT_TO = 'X-Raft-To';
export const H_PEER_URLS = 'X-PeerURLs';

/** A header of a request or answer Node received. */
export function header(headers: IncomingHttpHeaders, name: string): string {
  return headerString(headers[name.toLowerCase()]);
}

export const CONTENT_TYPE_PROTOBUF = 'application/protobuf';
export const CONTENT_TYPE_SNAPSHOT = 'application/octet-stream';

// Error texts etcd's peers send and match on.
export const ERR_INCOMPATIBLE_VERSION = 'incompatible version';
export const ERR_CLUSTER_ID_MISMATCH = 'cluster ID mismatch';
export const ERR_MEMBER_REMOVED = 'the member has been permanently removed from the cluster';
export const ERR_MEMBER_NOT_FOUND = 'member not found';
export const ERR_STOPPED = 'stopped';
export const ERR_UNSUPPORTED_STREAM_TYPE = 'unsupported stream type';

/** A failure with etcd's text; `code` lets callers tell the ones that matter apart. */
export class RaftHttpError extends Error {
  override name = 'RaftHttpError';
  constructor(
    message: string,
    readonly code?:
      | 'incompatibleVersion'
      | 'clusterIdMismatch'
      | 'memberRemoved'
      | 'unsupportedStreamType'
      | 'stopped',
  ) {
    super(message);
  }
}

/**
 * An error raft's handler may reject a message with that answers the sender with its own
 * status and a JSON body, as etcd's httptypes.HTTPError does: the member answers a message
 * from a removed member with 403 and {"message":"cannot process message from removed
 * member"}, which the sender reads as "the member has been permanently removed".
 */
export class PeerHTTPError extends Error {
  override name = 'PeerHTTPError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  body(): string {
    return JSON.stringify({ message: this.message });
  }
}

// ---------------------------------------------------------------------------
// Member ids: etcd's types.ID, lower-case hex without padding.

export function idString(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** Go's strconv.ParseUint(s, 16, 64): hex digits of either case, no prefix, no sign. */
export function parseId(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]+$/.test(s)) return undefined;
  const v = BigInt(`0x${s}`);
  return v > 0xffffffffffffffffn ? undefined : v;
}

// ---------------------------------------------------------------------------
// Versions: go-semver's major.minor.patch[-pre][+build]; only major.minor are compared.

export interface Semver {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

export function parseSemver(s: string): Semver | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(s);
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: s };
}

export function compareMajorMinor(a: Semver, b: Semver): -1 | 0 | 1 {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  return 0;
}

/** A version header; etcd 2.0 sent none, so an absent one means 2.0.0. */
export function headerVersion(v: string | string[] | undefined): Semver | undefined {
  const s = typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
  return parseSemver(s === undefined || s === '' ? '2.0.0' : s);
}

/**
 * etcd's checkVersionCompatibility: a peer is refused when its server version is below
 * our minimum cluster version, or its minimum cluster version above our server version
 * (major.minor only). Returns the reason, or undefined when compatible.
 */
export function checkVersionCompatibility(
  name: string,
  remoteServer: Semver,
  remoteMinCluster: Semver,
  localServer: Semver,
  localMinCluster: Semver,
): string | undefined {
  if (compareMajorMinor(remoteServer, localMinCluster) < 0) {
    return `remote version is too low: remote[${name}]=${remoteServer.text}, local=${localServer.text}`;
  }
  if (compareMajorMinor(remoteMinCluster, localServer) > 0) {
    return `local version is too low: remote[${name}]=${remoteServer.text}, local=${localServer.text}`;
  }
  return undefined;
}

/** The stream kinds each older major.minor speaks (etcd's supportedStream). */
const SUPPORTED_STREAMS: Record<string, StreamType[]> = {
  '2.0': [],
  '2.1': ['msgappv2', 'message'],
  '2.2': ['msgappv2', 'message'],
  '2.3': ['msgappv2', 'message'],
  '3.0': ['msgappv2', 'message'],
  '3.1': ['msgappv2', 'message'],
  '3.2': ['msgappv2', 'message'],
  '3.3': ['msgappv2', 'message'],
  '3.4': ['msgappv2', 'message'],
};

export function checkStreamSupport(v: Semver, t: StreamType): boolean {
  return SUPPORTED_STREAMS[`${v.major}.${v.minor}`]?.includes(t) ?? false;
}

/** What a refused request is answered: etcd's status and text. */
export interface Refusal {
  status: number;
  text: string;
  /** Why, for the log (not sent). */
  reason?: string;
}

export interface LocalVersions {
  server: Semver;
  minCluster: Semver;
}

/**
 * etcd's checkClusterCompatibilityFromHeader: versions first, then the cluster id; either
 * refusal is 412 with a text the sender matches on.
 */
export function checkClusterCompatibility(
  headers: IncomingHttpHeaders,
  local: LocalVersions,
  clusterId: bigint,
): Refusal | undefined {
  const name = header(headers, H_SERVER_FROM);
  const server = headerVersion(header(headers, H_SERVER_VERSION));
  const minCluster = headerVersion(header(headers, H_MIN_CLUSTER_VERSION));
  // etcd panics on a version it cannot parse, which drops the connection; a refusal is kinder.
  if (server === undefined || minCluster === undefined) {
    return { status: 412, text: ERR_INCOMPATIBLE_VERSION, reason: 'unparsable version header' };
  }
  const reason = checkVersionCompatibility(
    name,
    server,
    minCluster,
    local.server,
    local.minCluster,
  );
  if (reason !== undefined) return { status: 412, text: ERR_INCOMPATIBLE_VERSION, reason };
  if (header(headers, H_CLUSTER_ID) !== idString(clusterId)) {
    return { status: 412, text: ERR_CLUSTER_ID_MISMATCH };
  }
  return undefined;
}

export function headerString(v: string | string[] | undefined): string {
  if (v === undefined) return '';
  return Array.isArray(v) ? (v[0] ?? '') : v;
}

/**
 * etcd's checkPostResponse: how a sender reads the answer to a pipeline or snapshot POST.
 * Returns undefined on success (204).
 */
export function checkPostResponse(
  status: number,
  body: string,
  url: string,
): RaftHttpError | undefined {
  switch (status) {
    case 204:
      return undefined;
    case 412:
      return preconditionError(body);
    case 403:
      return new RaftHttpError(ERR_MEMBER_REMOVED, 'memberRemoved');
    default:
      return new RaftHttpError(
        `unexpected http status ${statusText(status)} while posting to ${JSON.stringify(url)}`,
      );
  }
}

/** A 412's body, as etcd's senders read it (trailing newline trimmed). */
export function preconditionError(body: string): RaftHttpError {
  const text = body.endsWith('\n') ? body.slice(0, -1) : body;
  if (text === ERR_INCOMPATIBLE_VERSION) return new RaftHttpError(text, 'incompatibleVersion');
  if (text === ERR_CLUSTER_ID_MISMATCH) return new RaftHttpError(text, 'clusterIdMismatch');
  return new RaftHttpError(`unhandled error ${JSON.stringify(body)} when precondition failed`);
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Go's http.StatusText for the codes this protocol meets. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}

// ---------------------------------------------------------------------------
// Peer URLs: etcd's types.NewURLs rules (http or https, host:port, no path).

export function isValidPeerUrl(s: string): boolean {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (u.port === '' && !/:\d+$/.test(u.host)) return false;
  return (u.pathname === '' || u.pathname === '/') && u.search === '' && u.hash === '';
}

// ---------------------------------------------------------------------------
// Paths: Go's path.Dir and path.Base, which the stream handler splits its path with
// (a trailing slash matters: Dir("/a/b/") is "/a/b").

export function goPathDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goPathClean(p.slice(0, i + 1));
}

export function goPathBase(p: string): string {
  if (p === '') return '.';
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p === '/') return '/';
  return p.slice(p.lastIndexOf('/') + 1);
}

function goPathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

// ---------------------------------------------------------------------------
// Formats for logs and answers.

/** go-humanize's Bytes (SI units), which etcd's snapshot log lines use: "83 MB". */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${sizes[e]}`;
}

/** A time as Go's JSON encoding writes it (RFC 3339 with trailing zeros of the fraction cut). */
export function goJsonTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2006-01-02T15:04:05.000Z
  return iso.replace(/\.(\d*?)0*Z$/, (_all, frac: string) => (frac === '' ? 'Z' : `.${frac}Z`));
}

/** Go's time.Duration.String for a span of milliseconds (download-took). */
export function goDuration(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Number(ms.toFixed(6))}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(9))}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Number((s - m * 60).toFixed(9))}s`;
}

/** A request's URL as Go prints it in errors: the peer URL with the path replaced. */
export function requestUrlString(peerUrl: string, path: string): string {
  const u = new URL(peerUrl);
  u.pathname = path;
  u.search = '';
  u.hash = '';
  return u.toString();
}
