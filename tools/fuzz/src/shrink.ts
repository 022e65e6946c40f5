/**
 * Delta debugging (Zeller's ddmin) over a sequence: the smallest subsequence found for
 * which `fails` still holds, 1-minimal when the budget allows (removing any one op makes it
 * pass). `fails` is expensive (fresh servers, a replay), so the search first tries the
 * cheap big cuts a failure at the end of a sequence usually allows: the last op alone, then
 * growing suffixes.
 */
export interface ShrinkOptions {
  /** Give up (returning the smallest failing sequence so far) at this time (ms since the epoch). */
  deadline?: number;
  /** Called after each test, for progress output. */
  onTest?: (size: number, failed: boolean) => void;
}

export interface ShrinkResult<T> {
  items: T[];
  tests: number;
  /** Whether the result is 1-minimal (false when the deadline cut the search). */
  minimal: boolean;
}

export async function shrink<T>(
  items: readonly T[],
  fails: (candidate: T[]) => Promise<boolean>,
  options: ShrinkOptions = {},
): Promise<ShrinkResult<T>> {
  let best = [...items];
  let tests = 0;
  const cache = new Map<string, boolean>();
  const outOfTime = () => options.deadline !== undefined && Date.now() > options.deadline;
  const test = async (c: T[]): Promise<boolean> => {
    const key = c.map((x) => items.indexOf(x)).join(',');
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    tests++;
    const r = await fails(c);
    cache.set(key, r);
    options.onTest?.(c.length, r);
    return r;
  };

  // Suffixes: the last op alone, then the last 2, 4, 8... ops.
  for (let k = 1; k < best.length && !outOfTime(); k *= 2) {
    const suffix = best.slice(best.length - k);
    if (await test(suffix)) {
      best = suffix;
      break;
    }
  }

  // ddmin.
  let n = 2;
  while (best.length >= 2 && !outOfTime()) {
    const chunks = split(best, n);
    let reduced = false;
    // Try each complement (dropping one chunk), then each chunk alone.
    for (let i = 0; i < chunks.length && !outOfTime(); i++) {
      const complement = chunks.filter((_, j) => j !== i).flat();
      if (complement.length > 0 && (await test(complement))) {
        best = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced && n > 2) {
      for (let i = 0; i < chunks.length && !outOfTime(); i++) {
        if (chunks[i]!.length < best.length && (await test(chunks[i]!))) {
          best = chunks[i]!;
          n = 2;
          reduced = true;
          break;
        }
      }
    }
    if (reduced) continue;
    if (n >= best.length) {
      return { items: best, tests, minimal: !outOfTime() };
    }
    n = Math.min(best.length, n * 2);
  }
  return { items: best, tests, minimal: best.length <= 1 && !outOfTime() };
}

function split<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  const size = xs.length / n;
  for (let i = 0; i < n; i++) {
    const part = xs.slice(Math.round(i * size), Math.round((i + 1) * size));
    if (part.length > 0) out.push(part);
  }
  return out;
}

type Path = (string | number)[];
type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Refs and byte forms are single values to the simplifier, never taken apart. */
function isLeaf(v: JsonValue): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return v === null || typeof v !== 'object';
  return ['$lease', '$member', '$url', '$hex', '$repeat'].some((k) => k in v);
}

function at(v: JsonValue, p: Path): JsonValue {
  let x = v;
  for (const k of p) x = (x as Record<string | number, JsonValue>)[k]!;
  return x;
}

/** `v` with the node at `p` keeping only the children `keep` (a copy; `v` is unchanged). */
function keepOnly(v: JsonValue, p: Path, keep: (string | number)[]): JsonValue {
  if (p.length === 0) {
    if (Array.isArray(v)) return keep.map((i) => v[i as number]!);
    const o = v as Record<string, JsonValue>;
    return Object.fromEntries(keep.map((k) => [k, o[k as string]!]));
  }
  const [head, ...rest] = p;
  if (Array.isArray(v)) {
    return v.map((x, i) => (i === head ? keepOnly(x, rest, keep) : x));
  }
  const o = v as Record<string, JsonValue>;
  return { ...o, [head as string]: keepOnly(o[head as string]!, rest, keep) };
}

/**
 * Hierarchical delta debugging of one JSON value (a request): level by level, the fewest
 * fields and list items for which `fails` still holds. Refs and byte forms stay whole.
 */
export async function simplify<T extends JsonValue>(
  value: T,
  fails: (candidate: T) => Promise<boolean>,
  options: ShrinkOptions = {},
): Promise<{ value: T; tests: number }> {
  let best: JsonValue = value;
  let tests = 0;
  const queue: Path[] = [[]];
  while (queue.length > 0) {
    if (options.deadline !== undefined && Date.now() > options.deadline) break;
    const p = queue.shift()!;
    const node = at(best, p);
    if (isLeaf(node)) continue;
    const kids: (string | number)[] = Array.isArray(node)
      ? node.map((_, i) => i)
      : Object.keys(node as object);
    if (kids.length === 0) continue;
    const base = best;
    const res = await shrink(
      kids,
      async (keep) => {
        const ok = await fails(keepOnly(base, p, keep) as T);
        return ok;
      },
      options,
    );
    tests += res.tests;
    // Dropping every child is worth one more try (an empty request may fail the same way).
    let keep = res.items;
    if (keep.length === 1 && !(options.deadline !== undefined && Date.now() > options.deadline)) {
      tests++;
      if (await fails(keepOnly(base, p, []) as T)) keep = [];
    }
    best = keepOnly(base, p, keep);
    const kept = at(best, p);
    const next = Array.isArray(kept) ? kept.map((_, i) => i) : Object.keys(kept as object);
    for (const k of next) queue.push([...p, k]);
  }
  return { value: best as T, tests };
}
