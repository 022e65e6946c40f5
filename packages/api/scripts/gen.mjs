// Regenerates src/gen from proto/ with buf and ts-proto, both installed from the npm
// registry as dev dependencies: `pnpm --filter @etcd-ts/api gen`.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'src/gen'), { recursive: true, force: true });
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate'], { cwd: root, stdio: 'inherit' });
process.stdout.write('generated src/gen from proto/\n');
