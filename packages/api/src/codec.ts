import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/**
 * What every generated message value offers: `encode`/`decode` for the wire and
 * `create`/`fromPartial` to build a message with every unset field at its proto3 default.
 */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  create(base?: DeepPartial<T>): T;
  fromPartial(object: DeepPartial<T>): T;
}

type Builtin =
  | Date
  | ((...args: never[]) => unknown)
  | Uint8Array
  | string
  | number
  | bigint
  | boolean
  | undefined;

/** A message with every field, at any depth, optional. */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends readonly (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : Partial<T>;

/** Encodes a message to a standalone byte array. */
export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Uint8Array {
  return codec.encode(message).finish();
}
