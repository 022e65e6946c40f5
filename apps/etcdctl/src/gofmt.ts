// Go's formatting rules that etcdctl's output follows: encoding/json (field order, escaping,
// base64 bytes, int64 as bare numbers), strconv.Quote (%q), %x of uint64 ids, humanize's
// byte sizes and time.Duration's String.

/** A value the JSON encoder writes; `undefined` members of objects are left out. */
export type GoJSON =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | GoJSON[]
  | { [key: string]: GoJSON | undefined };

const HEX = '0123456789abcdef';

function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    // Go escapes HTML-significant characters and the JS line terminators.
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** encoding/json.Marshal of `value`, keys in insertion order. */
export function goJSON(value: GoJSON | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Uint8Array) return `"${Buffer.from(value).toString('base64')}"`;
  if (Array.isArray(value)) return `[${value.map((v) => goJSON(v)).join(',')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    parts.push(`${jsonString(k)}:${goJSON(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Go's strconv.Quote of bytes taken as a string (what `%q` prints). */
export function goQuote(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      switch (b) {
        case 0x07:
          out += '\\a';
          continue;
        case 0x08:
          out += '\\b';
          continue;
        case 0x0c:
          out += '\\f';
          continue;
        case 0x0a:
          out += '\\n';
          continue;
        case 0x0d:
          out += '\\r';
          continue;
        case 0x09:
          out += '\\t';
          continue;
        case 0x0b:
          out += '\\v';
          continue;
        case 0x22:
          out += '\\"';
          continue;
        case 0x5c:
          out += '\\\\';
          continue;
      }
      if (b < 0x20 || b === 0x7f) out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
      else out += String.fromCharCode(b);
      continue;
    }
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    const chunk = bytes.subarray(i, i + len);
    const decoded = chunk.length === len && len > 1 ? decodeUtf8(chunk) : undefined;
    if (decoded === undefined) {
      out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
      i++;
      continue;
    }
    const cp = decoded.codePointAt(0)!;
    if (isPrintable(cp)) out += decoded;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    i += len;
  }
  return `${out}"`;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(chunk: Uint8Array): string | undefined {
  try {
    const s = strictDecoder.decode(chunk);
    return [...s].length === 1 ? s : undefined;
  } catch {
    return undefined;
  }
}

function isPrintable(cp: number): boolean {
  // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(cp));
}

/** `%x` / `%016x` of a uint64 id. */
export function hexID(id: bigint, width = 0): string {
  return BigInt.asUintN(64, id).toString(16).padStart(width, '0');
}

/** `%16x`: hex, left-padded with spaces to 16 characters. */
export function hexID16(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, ' ');
}

/** An int64 lease id as Go prints a LeaseID with %d (signed). */
export function signed64(id: bigint): bigint {
  return BigInt.asIntN(64, id);
}

/** github.com/dustin/go-humanize's Bytes (SI units, "20 kB"). */
export function humanizeBytes(size: number): string {
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (size < 10) return `${size} B`;
  const e = Math.floor(Math.log(size) / Math.log(1000));
  const suffix = sizes[e]!;
  const val = Math.floor((size / 1000 ** e) * 10 + 0.5) / 10;
  if (val < 10) return `${val.toFixed(1)} ${suffix}`;
  // Go's %.0f rounds an exact tie to even (20.5 -> "20"); toFixed would round it up.
  const tenths = Math.round(val * 10);
  let whole = Math.floor(tenths / 10);
  const rest = tenths % 10;
  if (rest > 5 || (rest === 5 && whole % 2 === 1)) whole++;
  return `${whole} ${suffix}`;
}

/** Go's time.Duration.String for a duration in nanoseconds. */
export function goDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const neg = nanos < 0;
  let n = Math.abs(Math.round(nanos));
  let out: string;
  if (n < 1_000) out = `${n}ns`;
  else if (n < 1_000_000) out = `${trimFraction(n / 1_000, 3)}µs`;
  else if (n < 1_000_000_000) out = `${trimFraction(n / 1_000_000, 6)}ms`;
  else {
    const h = Math.floor(n / 3_600_000_000_000);
    n -= h * 3_600_000_000_000;
    const m = Math.floor(n / 60_000_000_000);
    n -= m * 60_000_000_000;
    const s = `${trimFraction(n / 1_000_000_000, 9)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(v: number, digits: number): string {
  return v.toFixed(digits).replace(/\.?0+$/, '');
}

/** Parses a Go duration ("5s", "1m30s", "500ms", "2h"); a bare number is seconds. */
export function parseGoDuration(text: string): number {
  if (/^\d+$/.test(text)) {
    if (text === '0') return 0;
    throw new Error(`time: missing unit in duration "${text}"`);
  }
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1_000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let consumed = 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== body.length || body.length === 0) {
    throw new Error(`time: invalid duration "${text}"`);
  }
  return sign * total;
}
