// Regenerates src/gen from proto/ with buf and ts-proto, both installed from the npm
// registry as dev dependencies: `pnpm --filter @etcd-ts/api gen`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/gen');
rmSync(out, { recursive: true, force: true });
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate'], { cwd: root, stdio: 'inherit' });

// ts-proto's gRPC serializers encode every message into a fresh BinaryWriter and then
// copy the result into a Buffer. Allocating the writer's buffer dominates the cost of
// small messages (10x on a 256-byte KeyValue), so the service definitions are rewritten
// to encode into one reusable scratch writer and wrap its output without a copy.
const SERIALIZE_HELPER = `
const scratchWriter = { current: new BinaryWriter() };
const SCRATCH_KEEP_BYTES = 1 << 20;

/** Encodes into a reusable writer; the result owns its bytes (finish() slices). */
function serialize<T>(codec: { encode(message: T, writer: BinaryWriter): BinaryWriter }, value: T): Buffer {
  const writer = scratchWriter.current;
  try {
    const bytes = codec.encode(value, writer).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (err) {
    // A failed encode leaves the writer mid-message: start the next one clean.
    scratchWriter.current = new BinaryWriter();
    throw err;
  } finally {
    // Do not pin a huge buffer after one huge message.
    if ((writer as unknown as { buffer: Uint8Array }).buffer.length > SCRATCH_KEEP_BYTES) {
      scratchWriter.current = new BinaryWriter();
    }
  }
}
`;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const file of walk(out)) {
  const source = readFileSync(file, 'utf8');
  const pattern = /Buffer\.from\((\w+)\.encode\(value\)\.finish\(\)\)/g;
  if (!pattern.test(source)) continue;
  const rewritten = source.replace(pattern, 'serialize($1, value)');
  // After the import block, which ends at the first blank line following an import.
  const lastImport = rewritten.lastIndexOf('\nimport ');
  const at = rewritten.indexOf('\n\n', lastImport);
  if (lastImport < 0 || at < 0) throw new Error(`${file}: cannot find the import block`);
  const withHelper = rewritten.slice(0, at + 1) + SERIALIZE_HELPER + rewritten.slice(at + 1);
  writeFileSync(file, withHelper);
}
process.stdout.write('generated src/gen from proto/\n');
