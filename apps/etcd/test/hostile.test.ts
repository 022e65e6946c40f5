// Requests a hostile or careless client may send, against the real executable on loopback,
// side by side with Debian's etcd 3.4 where etcd-ts answers the same.

import { etcdserverpb } from '@etcd-ts/api';
import {
  call,
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  type EtcdProcess,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { type ClientDuplexStream, credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN, run } from './helpers.js';

const P = etcdserverpb;
type WatchResponse = etcdserverpb.WatchResponse;
const b = (s: string) => Buffer.from(s);
const str = (u: Uint8Array | undefined) => Buffer.from(u ?? []).toString();
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

// Under CI a missing Debian etcd or etcdctl fails the file instead of skipping the tests.
const haveRealEtcd = realEtcdAvailable(DEBIAN_ETCD_BIN);
const haveEtcdctl = realEtcdAvailable(DEBIAN_ETCDCTL_BIN);

/** One Watch stream: every response kept in order of arrival. */
class WatchSession {
  readonly responses: WatchResponse[] = [];
  private readonly client: InstanceType<typeof P.WatchClient>;
  private readonly stream: ClientDuplexStream<etcdserverpb.WatchRequest, WatchResponse>;
  error: Error | undefined;

  constructor(endpoint: string) {
    this.client = new P.WatchClient(endpoint, credentials.createInsecure());
    this.stream = this.client.watch();
    this.stream.on('data', (r: WatchResponse) => this.responses.push(r));
    this.stream.on('error', (e: Error) => {
      this.error = e;
    });
  }

  create(req: Partial<etcdserverpb.WatchCreateRequest>): void {
    this.stream.write(P.WatchRequest.fromPartial({ createRequest: req }));
  }

  /** The `i`th response (0-based), waiting for it. */
  async nth(i: number, ms = 10_000): Promise<WatchResponse> {
    const deadline = Date.now() + ms;
    while (this.responses.length <= i) {
      if (this.error !== undefined) throw this.error;
      if (Date.now() > deadline)
        throw new Error(`no watch response #${i} in ${ms} ms (got ${this.responses.length})`);
      await sleep(5);
    }
    return this.responses[i]!;
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

/** A watch response without the ids and term that differ between two clusters. */
function view(r: WatchResponse) {
  return {
    revision: r.header?.revision,
    watchId: r.watchId,
    created: r.created,
    canceled: r.canceled,
    compactRevision: r.compactRevision,
    cancelReason: r.cancelReason,
    fragment: r.fragment,
    events: r.events.map((e) => ({
      type: e.type,
      key: str(e.kv?.key),
      value: str(e.kv?.value),
      createRevision: e.kv?.createRevision,
      modRevision: e.kv?.modRevision,
      version: e.kv?.version,
    })),
  };
}

/**
 * Watches from negative start revisions on one stream, with the writes and the compaction
 * between them; returns every response, in order.
 */
async function negativeStartScenario(endpoint: string): Promise<WatchResponse[]> {
  const kv = new P.KVClient(endpoint, credentials.createInsecure());
  const put = (k: string, v: string) =>
    call(kv.put, kv, P.PutRequest.fromPartial({ key: b(k), value: b(v) }));
  const w = new WatchSession(endpoint);
  try {
    await put('a', '0');
    await put('a', '1'); // revision 3, never compacted
    w.create({ key: b('a'), startRevision: -1 });
    await w.nth(0);
    // etcd 3.4 leaves such a watcher unsynced until its next sync pass (every 100 ms) and
    // misses the writes before it; wait that out so both answer the same.
    await sleep(1000);
    await put('a', '2'); // revision 4
    await w.nth(1);
    // Below the compact revision, which is -1 until the first compaction.
    w.create({ key: b('b'), startRevision: -1_000_000 });
    await w.nth(3);
    await call(kv.compact, kv, P.CompactionRequest.fromPartial({ revision: 4, physical: true }));
    w.create({ key: b('c'), startRevision: -1 });
    await w.nth(5);
    w.create({ key: b('d') });
    await w.nth(6);
    await put('d', 'live'); // revision 5
    await w.nth(7);
    const got = await call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('a') }));
    expect(str(got.kvs[0]?.value)).toBe('2');
    await sleep(200); // nothing more may come
    return [...w.responses];
  } finally {
    w.close();
    kv.close();
  }
}

describe('a Watch from a negative start revision', () => {
  let etcd: EtcdProcess;
  beforeAll(async () => {
    etcd = await startEtcd({ bin: ETCD_TS_BIN });
  });
  afterAll(async () => {
    await etcd.stop();
  });

  it('start_revision -1 follows from the next revision, and the server keeps serving', async () => {
    const kv = new P.KVClient(etcd.endpoint, credentials.createInsecure());
    const w = new WatchSession(etcd.endpoint);
    try {
      await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('k'), value: b('0') }));
      w.create({ key: b('k'), startRevision: -1 });
      const created = await w.nth(0);
      expect(view(created)).toMatchObject({ watchId: 0, created: true, canceled: false });
      // Right after the create: etcd 3.4 may miss this one, etcd-ts must not.
      const put = await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('k'), value: b('1') }));
      const ev = await w.nth(1);
      expect(view(ev).events).toEqual([
        {
          type: 0,
          key: 'k',
          value: '1',
          createRevision: created.header!.revision,
          modRevision: put.header!.revision,
          version: 2,
        },
      ]);
      // Several sync passes later the process is alive and answers.
      await sleep(500);
      const r = await call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') }));
      expect(str(r.kvs[0]?.value)).toBe('1');
      expect(w.error).toBeUndefined();
      expect(etcd.logs()).not.toContain('RangeError');
    } finally {
      w.close();
      kv.close();
    }
  });

  it.runIf(haveRealEtcd)('answers as etcd 3.4 does, side by side', async () => {
    const real = await startEtcd({ bin: DEBIAN_ETCD_BIN });
    let want: WatchResponse[];
    try {
      want = await negativeStartScenario(real.endpoint);
    } finally {
      await real.stop();
    }
    const ours = await startEtcd({ bin: ETCD_TS_BIN });
    let got: WatchResponse[];
    try {
      got = await negativeStartScenario(ours.endpoint);
    } finally {
      await ours.stop();
    }
    // etcd 3.4 sends a compaction cancel with header revision 0, and so does etcd-ts.
    const cancelled = (r: WatchResponse) => r.compactRevision !== 0;
    for (const r of want.filter(cancelled)) expect(r.header?.revision).toBe(0);
    for (const r of got.filter(cancelled)) expect(r.header?.revision).toBe(0);
    const norm = (r: WatchResponse) => ({
      ...view(r),
      revision: cancelled(r) ? 'compaction cancel' : r.header?.revision,
    });
    expect(got.map(norm)).toEqual(want.map(norm));
    // What both said, spelled out.
    expect(want.map(norm)).toEqual([
      { ...base(3, 0), created: true },
      { ...base(4, 0), events: [ev('a', '2', 2, 4, 3)] },
      { ...base(4, 1), created: true },
      { ...base('compaction cancel', 1), canceled: true, compactRevision: -1 },
      { ...base(4, 2), created: true },
      { ...base('compaction cancel', 2), canceled: true, compactRevision: 4 },
      { ...base(4, 3), created: true },
      { ...base(5, 3), events: [ev('d', 'live', 5, 5, 1)] },
    ]);
  });
});

function base(revision: number | string, watchId: number) {
  return {
    revision,
    watchId,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    fragment: false,
    events: [] as ReturnType<typeof view>['events'],
  };
}

function ev(
  key: string,
  value: string,
  createRevision: number,
  modRevision: number,
  version: number,
) {
  return { type: 0, key, value, createRevision, modRevision, version };
}

/** The line etcdctl prints for a failed command ("Error: ..."), or undefined. */
const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('Error: '));

/**
 * The membership refusals with auth enabled, run with Debian's etcdctl against `endpoint`:
 * each command's exit code and "Error:" line, then the member list (ids and names only).
 */
async function membershipScenario(endpoint: string) {
  const ctl = (...args: string[]) => run(DEBIAN_ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...args]);
  const ok = async (...args: string[]) => {
    const r = await ctl(...args);
    expect(r, `etcdctl ${args.join(' ')}`).toMatchObject({ code: 0 });
    return r.stdout;
  };
  await ok('user', 'add', 'root:rootpw');
  await ok('user', 'add', 'bob:bobpw');
  await ok('auth', 'enable');
  const list = async () =>
    (await ok('member', 'list'))
      .trim()
      .split('\n')
      .map((l) => l.split(', ').slice(0, 3).join(', '));
  const before = await list(); // MemberList needs no permission
  const id = before[0]!.split(', ')[0]!;
  const refused: Array<[string, number | null, string | undefined]> = [];
  const refuse = async (label: string, ...args: string[]) => {
    const r = await ctl(...args);
    refused.push([label, r.code, errorLine(r.stderr)]);
  };
  const peer = 'http://127.0.0.9:2380';
  await refuse('add', 'member', 'add', 'x', `--peer-urls=${peer}`);
  await refuse('add learner', 'member', 'add', 'x', '--learner', `--peer-urls=${peer}`);
  await refuse('add as bob', '--user=bob:bobpw', 'member', 'add', 'x', `--peer-urls=${peer}`);
  await refuse('update', 'member', 'update', id, `--peer-urls=${peer}`);
  await refuse('remove', 'member', 'remove', id);
  // The permission is checked before the member is looked up.
  await refuse('remove unknown', 'member', 'remove', '1234');
  await refuse('promote as bob', '--user=bob:bobpw', 'member', 'promote', id);
  const afterRefusals = await list();
  return { before, id, refused, afterRefusals, ok, list };
}

describe('membership changes with auth enabled', () => {
  const ETCD_3_4_REFUSALS = [
    ['add', 1, 'Error: etcdserver: user name is empty'],
    ['add learner', 1, 'Error: etcdserver: user name is empty'],
    ['add as bob', 1, 'Error: etcdserver: permission denied'],
    ['update', 1, 'Error: etcdserver: user name is empty'],
    ['remove', 1, 'Error: etcdserver: user name is empty'],
    ['remove unknown', 1, 'Error: etcdserver: user name is empty'],
    ['promote as bob', 1, 'Error: etcdserver: permission denied'],
  ];

  it.runIf(haveRealEtcd && haveEtcdctl)('etcd 3.4 refuses them without the root role', async () => {
    const real = await startEtcd({ bin: DEBIAN_ETCD_BIN });
    try {
      const r = await membershipScenario(real.endpoint);
      expect(r.refused).toEqual(ETCD_3_4_REFUSALS);
      expect(r.afterRefusals).toEqual(r.before);
    } finally {
      await real.stop();
    }
  });

  it.runIf(haveEtcdctl)(
    'etcd-ts refuses them as etcd 3.4 does, before anything is proposed; root may',
    async () => {
      const etcd = await startEtcd({ bin: ETCD_TS_BIN });
      try {
        const r = await membershipScenario(etcd.endpoint);
        expect(r.refused).toEqual(ETCD_3_4_REFUSALS);
        expect(r.before).toHaveLength(1);
        expect(r.afterRefusals).toEqual(r.before);
        // Root may: update the member to its own peer URL, add a learner (no quorum
        // change) and remove it again; the single member stays writable throughout.
        // (etcdctl prints ids as %16x: space-padded when shorter than 16 digits.)
        const root = '--user=root:rootpw';
        expect(await r.ok(root, 'member', 'update', r.id, `--peer-urls=${etcd.peerUrl}`)).toMatch(
          new RegExp(`^Member +${r.id} updated in cluster +[0-9a-f]+\\n$`),
        );
        const added = await r.ok(
          root,
          'member',
          'add',
          'x',
          '--learner',
          '--peer-urls=http://127.0.0.9:2380',
        );
        const learner = /^Member +([0-9a-f]+) added to cluster/.exec(added)?.[1];
        expect(learner, added).toBeDefined();
        expect(await r.list()).toHaveLength(2);
        await r.ok(root, 'put', 'still', 'writable');
        expect(await r.ok(root, 'member', 'remove', learner!)).toMatch(
          new RegExp(`^Member +${learner} removed from cluster`),
        );
        expect(await r.list()).toEqual(r.before);
        expect(await r.ok(root, 'get', 'still', '--print-value-only')).toBe('writable\n');
      } finally {
        await etcd.stop();
      }
    },
  );
});

describe('a watch client that stops reading', () => {
  it('holds the member to what it can send: the client gets every event in order once it reads again, and others are served meanwhile', async () => {
    const etcd = await startEtcd({ bin: ETCD_TS_BIN });
    const opts = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
    const w = new etcdserverpb.WatchClient(etcd.endpoint, credentials.createInsecure(), opts);
    const kv = new etcdserverpb.KVClient(etcd.endpoint, credentials.createInsecure());
    try {
      const stream = w.watch();
      stream.on('error', () => {});
      stream.write({
        createRequest: etcdserverpb.WatchCreateRequest.fromPartial({
          key: b('w'),
          rangeEnd: b('x'),
        }),
      });
      await new Promise((r) => stream.once('data', r));
      stream.pause();
      const value = Buffer.alloc(50 * 1024, 1);
      const put = (key: string) =>
        new Promise<void>((res, rej) =>
          kv.put(etcdserverpb.PutRequest.fromPartial({ key: b(key), value }), (err) =>
            err ? rej(err) : res(),
          ),
        );
      for (let i = 0; i < 400; i += 20)
        await Promise.all(Array.from({ length: 20 }, (_, j) => put(`w${(i + j) % 37}`)));
      // Other clients are served while the stuck stream's events wait.
      await put('other');
      const revs: number[] = [];
      stream.on('data', (r: etcdserverpb.WatchResponse) => {
        for (const ev of r.events) revs.push(ev.kv!.modRevision);
      });
      stream.resume();
      const deadline = Date.now() + 20_000;
      while (revs.length < 400 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(revs).toEqual(Array.from({ length: 400 }, (_, i) => i + 2));
      stream.cancel();
    } finally {
      w.close();
      kv.close();
      await etcd.stop();
    }
  });
});
