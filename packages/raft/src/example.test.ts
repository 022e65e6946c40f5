// The README's example, kept runnable.

import { expect, it } from 'vitest';
import {
  decodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  RawNode,
  StateType,
} from './index.js';

it('README example: a three-member group in one process', () => {
  const ids = [1n, 2n, 3n];
  const members = new Map(
    ids.map((id) => {
      const storage = new MemoryStorage();
      const node = new RawNode({
        id,
        electionTick: 10,
        heartbeatTick: 1,
        storage,
        maxInflightMsgs: 256,
      });
      node.bootstrap(ids.map((peer) => ({ id: peer })));
      return [id, { node, storage, applied: [] as string[] }];
    }),
  );
  const network: Message[] = [];

  // The application loop of one member: persist, send, apply, advance.
  function handle(id: bigint): void {
    const m = members.get(id)!;
    while (m.node.hasReady()) {
      const rd = m.node.ready();
      if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.hardState) m.storage.setHardState(rd.hardState);
      network.push(...rd.messages);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.EntryConfChange) m.node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.length > 0) m.applied.push(new TextDecoder().decode(e.data));
      }
      m.node.advance(rd);
    }
  }
  const settle = () => {
    for (const id of ids) handle(id);
    while (network.length > 0) {
      const msg = network.shift()!;
      members.get(msg.to)!.node.step(msg);
      handle(msg.to);
    }
  };

  settle();
  members.get(1n)!.node.campaign();
  settle();
  members.get(1n)!.node.propose(new TextEncoder().encode('hello'));
  settle();

  expect(members.get(1n)!.node.status().softState.raftState).toBe(StateType.StateLeader);
  for (const m of members.values()) expect(m.applied).toEqual(['hello']);
});
