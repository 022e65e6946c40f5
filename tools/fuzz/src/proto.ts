import { createHash } from 'node:crypto';
import { PROTO_DIR } from '@etcd-ts/api';
import protobuf from 'protobufjs';
import type { Json, JsonObject } from './ops.js';

/**
 * etcd's .proto files (those of @etcd-ts/api) loaded by reflection, so the fuzzer can send
 * any value a field's wire type can carry (negative and > 2^53 int64s, unknown enum
 * numbers) and read any answer without the generated codecs' range checks.
 *
 * Requests are written as "fuzz JSON": proto field names, int64s as numbers or decimal
 * strings, enums as names or numbers, and bytes as a UTF-8 string, `{"$hex": "ff00"}` or
 * `{"$repeat": "x", "n": 1048576}`. Answers are read back into the same shape (bytes longer
 * than {@link BYTES_INLINE} as their length and SHA-256).
 */

/** A gRPC method as the fuzzer sees it. */
export interface Rpc {
  /** `KV.Range`, `Watch.Watch`, `Health.Check`... */
  readonly name: string;
  /** The HTTP/2 path: `/etcdserverpb.KV/Range`. */
  readonly path: string;
  readonly service: string;
  readonly method: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly clientStream: boolean;
  readonly serverStream: boolean;
}

/** The services a member of etcd serves to clients: etcdserverpb's and grpc.health.v1's. */
export const SERVICES = [
  'etcdserverpb.KV',
  'etcdserverpb.Watch',
  'etcdserverpb.Lease',
  'etcdserverpb.Cluster',
  'etcdserverpb.Maintenance',
  'etcdserverpb.Auth',
  'grpc.health.v1.Health',
] as const;

let loaded: { root: protobuf.Root; rpcs: Map<string, Rpc> } | undefined;

function load(): { root: protobuf.Root; rpcs: Map<string, Rpc> } {
  if (loaded !== undefined) return loaded;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => PROTO_DIR + target;
  root.loadSync(['etcdserverpb/rpc.proto', 'grpc/health/v1/health.proto'], { keepCase: true });
  root.resolveAll();
  const rpcs = new Map<string, Rpc>();
  for (const full of SERVICES) {
    const svc = root.lookupService(full);
    for (const m of svc.methodsArray) {
      const name = `${svc.name}.${m.name}`;
      rpcs.set(name, {
        name,
        path: `/${full}/${m.name}`,
        service: svc.name,
        method: m.name,
        requestType: m.resolvedRequestType!,
        responseType: m.resolvedResponseType!,
        clientStream: m.requestStream === true,
        serverStream: m.responseStream === true,
      });
    }
  }
  loaded = { root, rpcs };
  return loaded;
}

/** Every RPC of every service, in the order of the .proto files. */
export function allRpcs(): Rpc[] {
  return [...load().rpcs.values()];
}

export function rpc(name: string): Rpc {
  const r = load().rpcs.get(name);
  if (r === undefined) throw new Error(`unknown RPC ${name}`);
  return r;
}

export function messageType(name: string): protobuf.Type {
  return load().root.lookupType(name);
}

/** Bytes in fuzz JSON. */
export type BytesJson = string | { $hex: string } | { $repeat: string; n: number };

export function bytesOf(v: unknown): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$hex === 'string') return Buffer.from(o.$hex, 'hex');
    if (typeof o.$repeat === 'string' && typeof o.n === 'number') {
      const unit = Buffer.from(o.$repeat, 'utf8');
      if (unit.length === 0 || o.n <= 0) return Buffer.alloc(0);
      const out = Buffer.alloc(o.n);
      for (let i = 0; i < o.n; i += unit.length)
        unit.copy(out, i, 0, Math.min(unit.length, o.n - i));
      return out;
    }
  }
  throw new Error(`not bytes: ${JSON.stringify(v)}`);
}

/** Bytes longer than this are shown (and compared) as their length and SHA-256. */
export const BYTES_INLINE = 256;

/** Bytes as fuzz JSON: a string when they are printable UTF-8, else hex; long ones digested. */
export function readableBytes(b: Uint8Array): Json {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length > BYTES_INLINE) {
    return {
      $len: buf.length,
      sha256: createHash('sha256').update(buf).digest('hex').slice(0, 16),
    };
  }
  const s = buf.toString('utf8');
  if (Buffer.from(s, 'utf8').equals(buf)) return s;
  return { $hex: buf.toString('hex') };
}

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** A fuzz JSON value of `type` turned into what protobufjs encodes. */
function toProto(type: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key];
    if (field === undefined) throw new Error(`${type.name} has no field ${key}`);
    const one = (v: unknown): unknown => {
      if (field.resolvedType instanceof protobuf.Type) {
        return toProto(field.resolvedType, v as Record<string, unknown>);
      }
      if (field.resolvedType instanceof protobuf.Enum) {
        if (typeof v === 'number') return v;
        const n = field.resolvedType.values[v as string];
        if (n === undefined)
          throw new Error(`${field.resolvedType.name} has no value ${String(v)}`);
        return n;
      }
      if (field.type === 'bytes') return bytesOf(v);
      if (LONG_TYPES.has(field.type)) {
        const big = BigInt(v as string | number);
        const unsigned = field.type.startsWith('u') || field.type === 'fixed64';
        const wrapped = unsigned ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big);
        // protobufjs writes a decimal string through Long: every 64-bit value, exactly.
        return wrapped.toString();
      }
      return v;
    };
    out[key] = field.repeated ? (value as unknown[]).map(one) : one(value);
  }
  return out;
}

/** Encodes a fuzz JSON message of `type` (throws on a field the type does not have). */
export function encode(type: protobuf.Type, obj: Record<string, unknown>): Buffer {
  const msg = type.create(toProto(type, obj));
  return Buffer.from(type.encode(msg).finish());
}

/** A 64-bit value as a number when it is safe, else as a decimal string. */
function num(v: unknown): number | string {
  const s = typeof v === 'string' ? v : String(v);
  const big = BigInt(s);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(big)
    : big.toString();
}

/** A decoded message as fuzz JSON: fields at their default are left out, as on the wire. */
export function fromProto(type: protobuf.Type, msg: protobuf.Message): JsonObject {
  const obj = type.toObject(msg, { longs: String, enums: String, bytes: Buffer, defaults: false });
  return readable(type, obj);
}

function readable(type: protobuf.Type, obj: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined || v === null) continue;
    if (field.repeated && Array.isArray(v) && v.length === 0) continue;
    const one = (x: unknown): Json => {
      if (field.resolvedType instanceof protobuf.Type) {
        return readable(field.resolvedType, x as Record<string, unknown>);
      }
      if (field.type === 'bytes') return readableBytes(x as Uint8Array);
      if (LONG_TYPES.has(field.type)) return num(x);
      return x as Json;
    };
    out[field.name] = field.repeated ? (v as unknown[]).map(one) : one(v);
  }
  return out;
}

/** Decodes an answer; undefined with the reason when the bytes are not a valid message. */
export function decode(
  type: protobuf.Type,
  bytes: Uint8Array,
): { ok: true; value: JsonObject } | { ok: false; error: string } {
  try {
    return { ok: true, value: fromProto(type, type.decode(bytes)) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
