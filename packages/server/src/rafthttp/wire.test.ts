import { describe, expect, it } from 'vitest';
import { UrlPicker } from './peer_status.js';
import { BoundedQueue, RateLimiter } from './queue.js';
import {
  checkClusterCompatibility,
  checkPostResponse,
  checkStreamSupport,
  checkVersionCompatibility,
  goDuration,
  goJsonTime,
  goPathBase,
  goPathDir,
  headerVersion,
  humanizeBytes,
  idString,
  isValidPeerUrl,
  parseId,
  parseSemver,
  type Semver,
} from './wire.js';

const v = (s: string) => parseSemver(s) as Semver;
const local = { server: v('3.4.23'), minCluster: v('3.0.0') };

describe('versions (etcd checkVersionCompatibility, major.minor only)', () => {
  it('refuses a server below our minimum and a minimum above our server', () => {
    expect(
      checkVersionCompatibility('x', v('3.0.0'), v('3.0.0'), local.server, local.minCluster),
    ).toBeUndefined();
    expect(
      checkVersionCompatibility('x', v('3.5.9'), v('3.0.0'), local.server, local.minCluster),
    ).toBeUndefined();
    expect(
      checkVersionCompatibility('x', v('3.4.0'), v('3.4.99'), local.server, local.minCluster),
    ).toBeUndefined();
    expect(
      checkVersionCompatibility('x', v('2.3.8'), v('2.3.0'), local.server, local.minCluster),
    ).toBe('remote version is too low: remote[x]=2.3.8, local=3.4.23');
    expect(
      checkVersionCompatibility('x', v('3.6.0'), v('3.5.0'), local.server, local.minCluster),
    ).toBe('local version is too low: remote[x]=3.6.0, local=3.4.23');
  });

  it('reads an absent header as etcd 2.0 and takes pre-release and build suffixes', () => {
    expect(headerVersion(undefined)?.text).toBe('2.0.0');
    expect(headerVersion('')?.text).toBe('2.0.0');
    expect(parseSemver('3.4.0-rc.1+git')?.minor).toBe(4);
    expect(parseSemver('v3.4.0')).toBeUndefined();
    expect(parseSemver('3.4')).toBeUndefined();
  });

  it('knows which streams older versions speak', () => {
    expect(checkStreamSupport(v('2.0.0'), 'message')).toBe(false);
    expect(checkStreamSupport(v('2.1.3'), 'msgappv2')).toBe(true);
    expect(checkStreamSupport(v('3.4.23'), 'message')).toBe(true);
    expect(checkStreamSupport(v('3.5.0'), 'message')).toBe(false); // never asked: not older
  });

  it('checks versions before the cluster id', () => {
    const h = { 'x-server-version': '2.3.0', 'x-etcd-cluster-id': 'nope' };
    expect(checkClusterCompatibility(h, local, 0x10n)?.text).toBe('incompatible version');
    const ok = { 'x-server-version': '3.4.0', 'x-min-cluster-version': '3.0.0' };
    expect(
      checkClusterCompatibility({ ...ok, 'x-etcd-cluster-id': '11' }, local, 0x10n)?.text,
    ).toBe('cluster ID mismatch');
    expect(
      checkClusterCompatibility({ ...ok, 'x-etcd-cluster-id': '10' }, local, 0x10n),
    ).toBeUndefined();
    expect(
      checkClusterCompatibility({ ...ok, 'x-server-version': 'garbage' }, local, 0x10n)?.status,
    ).toBe(412);
  });
});

describe('answers to POSTs (etcd checkPostResponse)', () => {
  it('reads 204, 412 texts, 403 and anything else as etcd does', () => {
    expect(checkPostResponse(204, '', 'http://a:1/raft')).toBeUndefined();
    expect(checkPostResponse(412, 'incompatible version\n', 'u')?.code).toBe('incompatibleVersion');
    expect(checkPostResponse(412, 'cluster ID mismatch\n', 'u')?.code).toBe('clusterIdMismatch');
    expect(checkPostResponse(412, 'to field mismatch\n', 'u')?.message).toBe(
      'unhandled error "to field mismatch\\n" when precondition failed',
    );
    expect(checkPostResponse(403, '{"message":"x"}', 'u')?.message).toBe(
      'the member has been permanently removed from the cluster',
    );
    expect(checkPostResponse(500, 'x', 'http://127.0.0.1:2380/raft')?.message).toBe(
      'unexpected http status Internal Server Error while posting to "http://127.0.0.1:2380/raft"',
    );
  });
});

describe('small formats', () => {
  it('ids are hex as Go parses and prints them', () => {
    expect(idString(0x8e9e05c52164694dn)).toBe('8e9e05c52164694d');
    expect(parseId('8E9E05C52164694D')).toBe(0x8e9e05c52164694dn);
    expect(parseId('0000000000000000001')).toBe(1n);
    expect(parseId('ffffffffffffffff')).toBe(0xffffffffffffffffn);
    expect(parseId('10000000000000000')).toBeUndefined();
    expect(parseId('')).toBeUndefined();
    expect(parseId('0x1')).toBeUndefined();
    expect(parseId('-1')).toBeUndefined();
  });

  it("splits paths as Go's path.Dir and path.Base", () => {
    expect(goPathDir('/raft/stream/message/1')).toBe('/raft/stream/message');
    expect(goPathBase('/raft/stream/message/1')).toBe('1');
    expect(goPathDir('/raft/stream/message/')).toBe('/raft/stream/message');
    expect(goPathBase('/raft/stream/message/')).toBe('message');
    expect(goPathDir('/raft/stream/message/../msgapp/1')).toBe('/raft/stream/msgapp');
  });

  it('sizes as go-humanize, times as Go JSON, durations as Go', () => {
    expect(humanizeBytes(0)).toBe('0 B');
    expect(humanizeBytes(999)).toBe('999 B');
    expect(humanizeBytes(82854982)).toBe('83 MB');
    expect(humanizeBytes(5 * 1024 * 1024 + 123)).toBe('5.2 MB');
    expect(goJsonTime(Date.UTC(2024, 0, 2, 3, 4, 5, 120))).toBe('2024-01-02T03:04:05.12Z');
    expect(goJsonTime(Date.UTC(2024, 0, 2, 3, 4, 5, 0))).toBe('2024-01-02T03:04:05Z');
    expect(goDuration(1500)).toBe('1.5s');
    expect(goDuration(12.5)).toBe('12.5ms');
  });

  it('peer URLs follow types.NewURLs', () => {
    expect(isValidPeerUrl('http://127.0.0.1:2380')).toBe(true);
    expect(isValidPeerUrl('https://[::1]:2380')).toBe(true);
    expect(isValidPeerUrl('http://127.0.0.1')).toBe(false);
    expect(isValidPeerUrl('http://127.0.0.1:2380/raft')).toBe(false);
    expect(isValidPeerUrl('ftp://h:1')).toBe(false);
    expect(isValidPeerUrl('not a url')).toBe(false);
  });
});

describe('queues and pickers', () => {
  it('a bounded queue refuses past its capacity and wakes takers', async () => {
    const q = new BoundedQueue<number>(2);
    const taken = q.take();
    expect(q.offer(1)).toBe(true); // straight to the waiting taker
    expect(await taken).toBe(1);
    expect(q.offer(2)).toBe(true);
    expect(q.offer(3)).toBe(true);
    expect(q.offer(4)).toBe(false);
    expect(q.length).toBe(2);
    expect(await q.take()).toBe(2);
    const waiting = [q.take(), q.take()];
    q.close();
    expect(await Promise.all(waiting)).toEqual([3, undefined]);
    expect(q.offer(5)).toBe(false);
  });

  it('the dial limiter lets one attempt through per interval', () => {
    const r = new RateLimiter(100);
    expect(r.reserve(1000)).toBe(0);
    expect(r.reserve(1010)).toBe(90);
    expect(r.reserve(1500)).toBe(0);
  });

  it('the URL picker moves on once per failed URL', () => {
    const p = new UrlPicker(['http://a:1', 'http://b:1']);
    const u = p.pick();
    p.unreachable(u);
    p.unreachable(u); // a second channel failing on the same URL does not skip b
    expect(p.pick()).toBe('http://b:1');
    p.unreachable('http://b:1');
    expect(p.pick()).toBe('http://a:1');
    p.update(['http://c:1']);
    expect(p.pick()).toBe('http://c:1');
  });
});
