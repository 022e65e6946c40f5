import type { Json } from './ops.js';

/** One field where two normalised answers differ. */
export interface Difference {
  /** `resp.kvs[0].value`, `code`, `message`... */
  path: string;
  reference: Json | undefined;
  ours: Json | undefined;
}

/** Field-by-field differences of two normalised answers (empty when they are equal). */
export function diff(reference: Json | undefined, ours: Json | undefined, path = ''): Difference[] {
  if (reference === ours) return [];
  if (
    reference === null ||
    ours === null ||
    typeof reference !== 'object' ||
    typeof ours !== 'object' ||
    Array.isArray(reference) !== Array.isArray(ours)
  ) {
    return [{ path: path || '.', reference, ours }];
  }
  const out: Difference[] = [];
  if (Array.isArray(reference) && Array.isArray(ours)) {
    const n = Math.max(reference.length, ours.length);
    for (let i = 0; i < n; i++) out.push(...diff(reference[i], ours[i], `${path}[${i}]`));
    return out;
  }
  const a = reference as Record<string, Json>;
  const b = ours as Record<string, Json>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) out.push(...diff(a[k], b[k], path ? `${path}.${k}` : k));
  return out;
}

/** A difference's path with list positions and watch ids left out: what kind of field differs. */
export function pathShape(path: string): string {
  return path
    .replace(/\[\d+\]/g, '[]')
    .replace(/^watches\.\d+\.-?\d+/, 'watches.<stream>.<id>')
    .replace(/^watches\.-?\d+/, 'watches.<id>');
}
