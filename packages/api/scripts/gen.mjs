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

// ts-proto encodes a `number`-typed 64-bit field (jstype = JS_NUMBER) by building three
// BigInts (two for a range check, one to write), ~400 ns a field. Revisions, versions and
// terms are written on every response, so such fields get a direct path: a value that fits
// in 32 bits has the same varint bytes as a uint32, and anything else (negative TTLs,
// values past 2^32) takes the library's 64-bit path. Both paths refuse non-integers.
const INT64_HELPERS = `
function writeSafeInt64(writer: BinaryWriter, value: number): void {
  if (!Number.isSafeInteger(value)) throw new globalThis.Error(\`int64 field value \${value} is not a safe integer\`);
  if (value >= 0 && value <= 0xffffffff) writer.uint32(value);
  else writer.int64(value);
}

function writeSafeUint64(writer: BinaryWriter, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new globalThis.Error(\`uint64 field value \${value} is not a non-negative safe integer\`);
  }
  if (value <= 0xffffffff) writer.uint32(value);
  else writer.uint64(value);
}
`;

const NUMBER_INT64_ENCODE =
  /if \(BigInt\.as(Int|Uint)N\(64, BigInt\((message\.\w+)\)\) !== BigInt\(\2\)\) \{\n\s*throw new globalThis\.Error\([^;]*\);\n\s*\}\n(\s*)writer\.uint32\((\d+)\)\.u?int64\(BigInt\(\2\)\);/g;

/** Inserts `helper` after the import block of `source`. */
function afterImports(source, helper, file) {
  const lastImport = source.lastIndexOf('\nimport ');
  const at = source.indexOf('\n\n', lastImport);
  if (lastImport < 0 || at < 0) throw new Error(`${file}: cannot find the import block`);
  return source.slice(0, at + 1) + helper + source.slice(at + 1);
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const file of walk(out)) {
  let source = readFileSync(file, 'utf8');
  const original = source;
  const serialized = source.replace(
    /Buffer\.from\((\w+)\.encode\(value\)\.finish\(\)\)/g,
    'serialize($1, value)',
  );
  if (serialized !== source) source = afterImports(serialized, SERIALIZE_HELPER, file);
  const rewritten = source.replace(
    NUMBER_INT64_ENCODE,
    (_all, kind, field, _indent, tag) => `writeSafe${kind}64(writer.uint32(${tag}), ${field});`,
  );
  if (rewritten !== source) source = afterImports(rewritten, INT64_HELPERS, file);
  if (source.includes('BigInt(message.'))
    throw new Error(`${file}: an int64 encode was not rewritten`);
  // Decoding: Number(bigint) directly instead of through a decimal string.
  source = source.replace(
    'const num = globalThis.Number(int64.toString());',
    "const num = typeof int64 === 'bigint' ? globalThis.Number(int64) : globalThis.Number(int64.toString());",
  );
  if (source !== original) writeFileSync(file, source);
}
process.stdout.write('generated src/gen from proto/\n');
