// `pnpm start`: runs a single etcd-ts member on 127.0.0.1:2379 with its data in
// ./default.etcd; arguments after `pnpm start --` go to the etcd executable instead.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'apps/etcd/bin/etcd');
if (!existsSync(join(root, 'apps/etcd/dist/main.js'))) {
  console.error('etcd-ts: the server is not built: run `pnpm build` (pnpm start does) and retry.');
  process.exit(1);
}
// With no arguments: one member on 127.0.0.1:2379 with its data in ./default.etcd (etcd's
// own default client URL is localhost:2379, which also binds ::1).
const given = process.argv.slice(2);
const args =
  given.length > 0
    ? given
    : [
        '--listen-client-urls=http://127.0.0.1:2379',
        '--advertise-client-urls=http://127.0.0.1:2379',
      ];
const child = spawn(process.execPath, [bin, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
