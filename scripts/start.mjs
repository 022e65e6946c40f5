// `pnpm start`: runs a single etcd-ts member on 127.0.0.1:2379 with its data in
// ./default.etcd, once apps/etcd exists.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'apps/etcd/bin/etcd');
if (!existsSync(bin)) {
  console.error(
    'etcd-ts: the server (apps/etcd) is not built yet; the packages built so far are in packages/*. ' +
      'Run `pnpm test` to exercise them.',
  );
  process.exit(1);
}
const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
