import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { AuthStore } from '@etcd-ts/auth';
import { Backend } from '@etcd-ts/backend';
import { Lessor } from '@etcd-ts/lease';
import { WatchableStore } from '@etcd-ts/mvcc';
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  EntryType,
  encodeConfChange,
  encodeConfChangeV2,
} from '@etcd-ts/raft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmStore } from '../alarms.js';
import { silentLogger } from '../config.js';
import { InvariantError } from '../invariant.js';
import { memberToJson, RaftCluster } from '../membership.js';
import { Applier, type ApplyResult } from './applier.js';

let dir: string;
let backend: Backend;
let kv: WatchableStore;
let lessor: Lessor;
let applier: Applier;
let toRaft: Array<ConfChange | ConfChangeV2>;
let results: Map<bigint, ApplyResult>;

const confState: ConfState = {
  voters: [1n],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-applier-'));
  backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
  lessor = new Lessor({ backend });
  kv = new WatchableStore(backend, { lessor });
  lessor.setRangeDeleter(() => kv.write());
  const cluster = new RaftCluster();
  cluster.setBackend(backend);
  toRaft = [];
  results = new Map();
  applier = new Applier({
    kv,
    lessor,
    authStore: new AuthStore({ backend, bcryptCost: 4 }),
    alarms: new AlarmStore(backend),
    cluster,
    lg: silentLogger,
    applyConfChangeToRaft: (cc) => {
      toRaft.push(cc);
      return confState;
    },
    trigger: (id, result) => results.set(id, result),
    appliedIndex: 0,
    appliedTerm: 0,
  });
});
afterEach(async () => {
  lessor.stop();
  await kv.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const put = (index: number, id: bigint, key: string): Entry => ({
  term: 1,
  index,
  type: EntryType.EntryNormal,
  data: etcdserverpb.InternalRaftRequest.encode(
    etcdserverpb.InternalRaftRequest.fromPartial({
      header: { ID: id },
      put: { key: Buffer.from(key), value: Buffer.from('v') },
    }),
  ).finish(),
});

describe('Applier', () => {
  it('applies entries once, in order, and skips those already applied', () => {
    applier.applyEntries([put(1, 11n, 'a'), put(2, 12n, 'b')]);
    expect(applier.appliedIndex).toBe(2);
    expect(kv.consistentIndex().index).toBe(2);
    expect(results.get(12n)?.err).toBeUndefined();
    // Raft may hand the same entries again (after a restart): nothing is applied twice.
    applier.applyEntries([put(2, 13n, 'c'), put(3, 14n, 'd')]);
    expect(results.has(13n)).toBe(false);
    expect(kv.rev()).toBe(4);
  });

  it('stops at a gap: committed entries past applied + 1 are a broken invariant', () => {
    applier.applyEntries([put(1, 11n, 'a')]);
    expect(() => applier.applyEntries([put(3, 13n, 'c')])).toThrow(InvariantError);
    expect(kv.rev()).toBe(2);
  });

  it('stops at an entry type it does not know', () => {
    const odd = { term: 1, index: 1, type: 7 as EntryType, data: new Uint8Array(0) };
    expect(() => applier.applyEntries([odd])).toThrow(/unknown entry type 7/);
    expect(applier.appliedIndex).toBe(0);
  });

  it('refuses a snapshot behind what it applied', () => {
    applier.applyEntries([put(1, 11n, 'a'), put(2, 12n, 'b')]);
    expect(() => applier.restoredTo(1, 1, confState)).toThrow(InvariantError);
    applier.restoredTo(5, 2, confState);
    expect(applier.appliedIndex).toBe(5);
  });

  it('decodes ConfChange entries as V1 and ConfChangeV2 entries as V2', () => {
    const member = {
      id: 2n,
      name: '',
      peerUrls: ['http://127.0.0.1:2380'],
      clientUrls: [],
      isLearner: true,
    };
    const v1: ConfChange = {
      type: ConfChangeType.ConfChangeAddLearnerNode,
      nodeId: 2n,
      context: Buffer.from(memberToJson(member)),
      id: 21n,
    };
    const v2: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 3n }],
      context: new Uint8Array(0),
    };
    applier.applyEntries([
      { term: 1, index: 1, type: EntryType.EntryConfChange, data: encodeConfChange(v1) },
      { term: 1, index: 2, type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(v2) },
    ]);
    expect(toRaft).toHaveLength(2);
    expect(toRaft[0]).toMatchObject({ type: v1.type, nodeId: 2n, id: 21n });
    expect('changes' in toRaft[0]!).toBe(false);
    expect(toRaft[1]).toMatchObject({ transition: v2.transition, changes: v2.changes });
    expect(results.get(21n)?.resp).toEqual([member]);
    expect(applier.latestConfState).toEqual(confState);
    expect(applier.appliedIndex).toBe(2);
  });
});
