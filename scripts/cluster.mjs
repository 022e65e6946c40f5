// `pnpm cluster`: a local 3-member etcd-ts cluster, like etcd's Procfile: members infra1,
// infra2 and infra3 on 127.0.0.1 with clients on 2379/22379/32379 and peers on
// 2380/22380/32380, data in ./cluster.etcd/<name>. Each member's log lines are prefixed
// with its name; the endpoints are printed once all three serve; Ctrl-C (or SIGTERM) stops
// them all cleanly (SIGTERM, then waits; a second Ctrl-C kills them). Arguments after
// `pnpm cluster --` go to every member (e.g. --auto-compaction-retention=1h).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'apps/etcd/bin/etcd');
if (!existsSync(join(root, 'apps/etcd/dist/main.js'))) {
  console.error(
    'etcd-ts: the server is not built: run `pnpm build` (pnpm cluster does) and retry.',
  );
  process.exit(1);
}

const members = [
  { name: 'infra1', client: 2379, peer: 2380 },
  { name: 'infra2', client: 22379, peer: 22380 },
  { name: 'infra3', client: 32379, peer: 32380 },
];
const token = 'etcd-cluster-1';
const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const dataRoot = join(process.cwd(), 'cluster.etcd');
mkdirSync(dataRoot, { recursive: true });
const extra = process.argv.slice(2).filter((a) => a !== '--');
const colours = ['\x1b[36m', '\x1b[33m', '\x1b[35m'];
const useColour = process.stdout.isTTY === true;
const READY = 'ready to serve client requests';

let stopping = false;
const children = members.map((m, i) => {
  const args = [
    `--name=${m.name}`,
    `--data-dir=${join(dataRoot, m.name)}`,
    `--listen-client-urls=http://127.0.0.1:${m.client}`,
    `--advertise-client-urls=http://127.0.0.1:${m.client}`,
    `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
    `--initial-cluster-token=${token}`,
    `--initial-cluster=${initialCluster}`,
    // A restart of the cluster reuses the data dirs: the state is then ignored, as in etcd.
    '--initial-cluster-state=new',
    ...extra,
  ];
  // Each member in its own process group: a terminal's Ctrl-C reaches this script only,
  // which then stops every member with one SIGTERM (a second signal would make them exit
  // at once).
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
    detached: true,
  });
  const prefix = useColour
    ? `${colours[i]}${m.name.padEnd(6)} |\x1b[0m `
    : `${m.name.padEnd(6)} | `;
  let ready = false;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const readyPromise = new Promise((resolve, reject) => {
    const lines = (stream, out) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          out.write(`${prefix}${line}\n`);
          if (!ready && line.includes(READY)) {
            ready = true;
            resolve();
          }
          nl = buf.indexOf('\n');
        }
      });
      stream.on('end', () => {
        if (buf !== '') out.write(`${prefix}${buf}\n`);
      });
    };
    lines(child.stdout, process.stdout);
    lines(child.stderr, process.stderr);
    exited.then(({ code, signal }) => {
      if (!ready) reject(new Error(`${m.name} exited (${signal ?? code}) before it was ready`));
    });
  });
  exited.then(({ code, signal }) => {
    if (!stopping) {
      console.error(
        `${m.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the cluster`,
      );
      void stop(1);
    }
  });
  return { ...m, child, exited, ready: readyPromise };
});

async function stop(code) {
  if (stopping) return;
  stopping = true;
  console.log('stopping the cluster (SIGTERM)...');
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
  const results = await Promise.all(children.map((c) => c.exited));
  const clean = results.every((r) => r.code === 0);
  console.log(clean ? 'all members stopped cleanly' : 'members stopped');
  process.exit(code ?? (clean ? 0 : 1));
}

// Whatever ends this script, no member is left behind.
process.on('exit', () => {
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) {
      // A second Ctrl-C: the members exit at once (each acknowledged write is in its WAL).
      for (const c of children) c.child.kill('SIGKILL');
      process.exit(130);
    }
    void stop(0);
  });
}

try {
  await Promise.all(children.map((c) => c.ready));
  const endpoints = members.map((m) => `127.0.0.1:${m.client}`).join(',');
  console.log('');
  console.log('etcd-ts cluster ready:');
  for (const m of members)
    console.log(
      `  ${m.name}  client http://127.0.0.1:${m.client}  peer http://127.0.0.1:${m.peer}`,
    );
  console.log(`  data in ${dataRoot}`);
  console.log('');
  console.log(`  etcdctl --endpoints=${endpoints} member list`);
  console.log(`  ETCDCTL_API=3 etcdctl --endpoints=${endpoints} put foo bar`);
  console.log('');
  console.log('Ctrl-C stops the cluster.');
} catch (err) {
  if (!stopping) {
    console.error(String(err.message ?? err));
    await stop(1);
  }
}
