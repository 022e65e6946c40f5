/**
 * Just enough of HTTP/2's framing (RFC 9113) and HPACK (RFC 7541) to write frames by hand,
 * well-formed or not, on a plain TCP socket: the client preface, frame headers, literal
 * header blocks and gRPC's length-prefixed messages.
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flags = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/**
 * One frame. `length` overrides the length field (to lie about it); the payload is
 * written as given.
 */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
  length = payload.length,
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h.writeUInt8(type & 0xff, 3);
  h.writeUInt8(flags & 0xff, 4);
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** A SETTINGS frame with the given (id, value) pairs. */
export function settings(pairs: [number, number][] = [], ack = false): Buffer {
  const p = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(v >>> 0, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flags.ACK : 0, 0, p);
}

/** HPACK's prefixed integer. */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing, new names, no Huffman coding. */
export function headerBlock(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

/** The request headers of a gRPC call to `path`. */
export function grpcHeaders(path: string, extra: [string, string][] = []): [string, string][] {
  return [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ];
}

/** gRPC's length-prefixed message: a compressed flag, a 4-byte length (which may lie), the bytes. */
export function grpcMessage(
  body: Buffer,
  opts: { compressed?: boolean; length?: number } = {},
): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(opts.compressed === true ? 1 : 0, 0);
  h.writeUInt32BE((opts.length ?? body.length) >>> 0, 1);
  return Buffer.concat([h, body]);
}
