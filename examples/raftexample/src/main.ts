#!/usr/bin/env node
// raftexample: one member of a replicated key-value store.
//
//   raftexample --id 1 --cluster http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379 \
//               --port 12380 --data-dir raftexample-1
//
// The n-th URL of --cluster is the peer URL of member n. --join starts a
// member that was added with POST /members/<id> (it receives the group's
// state from the leader instead of bootstrapping).

import { parseArgs } from 'node:util';
import { Member } from './member.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string', default: '1' },
    cluster: { type: 'string', default: 'http://127.0.0.1:12379' },
    port: { type: 'string', default: '12380' },
    'data-dir': { type: 'string' },
    join: { type: 'boolean', default: false },
    'snapshot-count': { type: 'string', default: '1000' },
  },
});

const id = BigInt(values.id);
const peers = new Map<bigint, string>();
for (const [i, url] of values.cluster.split(',').entries()) peers.set(BigInt(i + 1), url.trim());
if (!peers.has(id)) {
  console.error(`--id ${id} has no URL in --cluster`);
  process.exit(2);
}

const member = new Member({
  id,
  peers,
  dataDir: values['data-dir'] ?? `raftexample-${id}`,
  port: Number(values.port),
  join: values.join,
  snapshotCount: Number(values['snapshot-count']),
});
await member.start();
console.log(
  `raftexample member ${id} serving clients on ${member.clientURL}, peers on ${peers.get(id)}`,
);

const shutdown = () => {
  member.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
