import { describe, expect, it } from 'vitest';
import { decodeConfChange } from './codec.js';
import { ErrProposalDropped, ErrStopped } from './errors.js';
import { Node } from './node.js';
import { StateType } from './raft.js';
import { EntryType, type Message } from './raftpb.js';
import { MemoryStorage } from './storage.js';

/** Three Nodes in one process, wired by an in-memory transport, each with its own Ready loop. */
function cluster() {
  const ids = [1n, 2n, 3n];
  const nodes = new Map<bigint, Node>();
  const storages = new Map<bigint, MemoryStorage>();
  const applied = new Map<bigint, string[]>();
  const loops: Promise<void>[] = [];
  for (const id of ids) {
    const storage = new MemoryStorage();
    storages.set(id, storage);
    applied.set(id, []);
    let seed = Number(id);
    const node = Node.start(
      {
        id,
        electionTick: 10,
        heartbeatTick: 1,
        storage,
        maxSizePerMsg: 1 << 20,
        maxInflightMsgs: 256,
        rand: (n) => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          return seed % n;
        },
      },
      ids.map((p) => ({ id: p })),
    );
    nodes.set(id, node);
  }
  const deliver = (msgs: Message[]) => {
    // Delivered asynchronously, as a transport would.
    for (const m of msgs)
      queueMicrotask(() =>
        nodes
          .get(m.to)
          ?.step(m)
          .catch(() => {}),
      );
  };
  for (const id of ids) {
    const node = nodes.get(id)!;
    const storage = storages.get(id)!;
    loops.push(
      node.run(async (rd) => {
        if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
        storage.append(rd.entries);
        if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
        deliver(rd.messages);
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.EntryConfChange) node.applyConfChange(decodeConfChange(e.data));
          else if (e.data.length > 0) applied.get(id)!.push(new TextDecoder().decode(e.data));
        }
      }),
    );
  }
  return { nodes, applied, loops };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('Node', () => {
  it('elects a leader, commits proposals on every member, and stops cleanly', async () => {
    const { nodes, applied, loops } = cluster();
    await settle(); // the bootstrap configuration is applied first
    await nodes.get(1n)!.campaign();
    for (
      let i = 0;
      i < 20 && nodes.get(1n)!.status().softState.raftState !== StateType.StateLeader;
      i++
    ) {
      await settle();
    }
    expect(nodes.get(1n)!.status().softState.raftState).toBe(StateType.StateLeader);
    await nodes.get(1n)!.propose(new TextEncoder().encode('a'));
    await nodes.get(2n)!.propose(new TextEncoder().encode('b')); // forwarded to the leader
    for (let i = 0; i < 50 && [...applied.values()].some((a) => a.length < 2); i++) {
      for (const n of nodes.values()) n.tick();
      await settle();
    }
    for (const a of applied.values()) expect(a).toEqual(['a', 'b']);
    for (const n of nodes.values()) n.stop();
    await Promise.all(loops);
    await expect(nodes.get(1n)!.propose(new Uint8Array([1]))).rejects.toBeInstanceOf(ErrStopped);
  });

  it('propose rejects with ErrProposalDropped when there is no leader', async () => {
    const storage = new MemoryStorage();
    const node = Node.start(
      { id: 1n, electionTick: 10, heartbeatTick: 1, storage, maxInflightMsgs: 16 },
      [{ id: 1n }, { id: 2n }],
    );
    await expect(node.propose(new Uint8Array([1]))).rejects.toBeInstanceOf(ErrProposalDropped);
    node.stop();
  });

  it('ready() is an async iterator that yields one Ready per advance and ends on stop', async () => {
    const storage = new MemoryStorage();
    const node = Node.start(
      { id: 1n, electionTick: 10, heartbeatTick: 1, storage, maxInflightMsgs: 16 },
      [{ id: 1n }],
    );
    const seen: number[] = [];
    const loop = (async () => {
      for await (const rd of node.ready()) {
        storage.append(rd.entries);
        if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.EntryConfChange) node.applyConfChange(decodeConfChange(e.data));
          seen.push(e.index);
        }
        node.advance();
      }
    })();
    await settle();
    await node.campaign();
    await settle();
    await node.propose(new Uint8Array([7]));
    await settle();
    node.stop();
    await loop;
    expect(seen).toEqual([1, 2, 3]); // the bootstrap entry, the leader's empty entry, the proposal
  });
});
