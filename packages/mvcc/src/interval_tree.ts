// An interval tree over binary-string keys for the range watchers (etcd's adt.IntervalTree
// with string-affine intervals): a treap ordered by (start, end), each node augmented with
// the greatest end in its subtree, so a stab visits only subtrees that can contain the
// point. An end of '' stands for +infinity (a watch from a key to the end of the keyspace).

interface Node<V> {
  start: string;
  end: string;
  value: V;
  priority: number;
  left: Node<V> | undefined;
  right: Node<V> | undefined;
  maxEnd: string;
}

/** a > b where '' is +infinity. */
function endAfter(a: string, b: string): boolean {
  if (a === '') return b !== '';
  return b !== '' && a > b;
}

function maxEnd(a: string, b: string): string {
  return endAfter(a, b) ? a : b;
}

function cmp(aStart: string, aEnd: string, bStart: string, bEnd: string): number {
  if (aStart !== bStart) return aStart < bStart ? -1 : 1;
  if (aEnd === bEnd) return 0;
  return endAfter(aEnd, bEnd) ? 1 : -1;
}

function update<V>(n: Node<V>): void {
  let m = n.end;
  if (n.left !== undefined) m = maxEnd(m, n.left.maxEnd);
  if (n.right !== undefined) m = maxEnd(m, n.right.maxEnd);
  n.maxEnd = m;
}

function rotateRight<V>(n: Node<V>): Node<V> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<V>(n: Node<V>): Node<V> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

export class IntervalTree<V> {
  private root: Node<V> | undefined;
  private count = 0;
  /** Priorities come from a fixed xorshift sequence: deterministic shapes, no Math.random. */
  private seed = 0x9e3779b9;

  get size(): number {
    return this.count;
  }

  /** The value stored for exactly [start, end), if any. */
  find(start: string, end: string): V | undefined {
    let n = this.root;
    while (n !== undefined) {
      const c = cmp(start, end, n.start, n.end);
      if (c === 0) return n.value;
      n = c < 0 ? n.left : n.right;
    }
    return undefined;
  }

  /** Stores `value` for [start, end); the interval must not be present yet. */
  insert(start: string, end: string, value: V): void {
    this.root = this.insertAt(this.root, start, end, value);
    this.count++;
  }

  /** Removes [start, end); returns whether it was there. */
  delete(start: string, end: string): boolean {
    const before = this.count;
    this.root = this.deleteAt(this.root, start, end);
    return this.count < before;
  }

  /** Calls fn with the value of every interval containing `point`. */
  stab(point: string, fn: (value: V) => void): void {
    const visit = (n: Node<V> | undefined): void => {
      // No end in this subtree lies beyond the point: nothing here contains it.
      if (n === undefined || !endAfter(n.maxEnd, point)) return;
      visit(n.left);
      if (n.start > point) return; // this node and everything right of it start later
      if (endAfter(n.end, point)) fn(n.value);
      visit(n.right);
    };
    visit(this.root);
  }

  /** Whether any interval contains `point`. */
  intersects(point: string): boolean {
    let found = false;
    this.stab(point, () => {
      found = true;
    });
    return found;
  }

  private nextPriority(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }

  private insertAt(n: Node<V> | undefined, start: string, end: string, value: V): Node<V> {
    if (n === undefined) {
      return {
        start,
        end,
        value,
        priority: this.nextPriority(),
        left: undefined,
        right: undefined,
        maxEnd: end,
      };
    }
    const c = cmp(start, end, n.start, n.end);
    if (c === 0) throw new Error('interval tree: interval already present');
    if (c < 0) {
      n.left = this.insertAt(n.left, start, end, value);
      if (n.left.priority > n.priority) return rotateRight(n);
    } else {
      n.right = this.insertAt(n.right, start, end, value);
      if (n.right.priority > n.priority) return rotateLeft(n);
    }
    update(n);
    return n;
  }

  private deleteAt(n: Node<V> | undefined, start: string, end: string): Node<V> | undefined {
    if (n === undefined) return undefined;
    const c = cmp(start, end, n.start, n.end);
    if (c < 0) n.left = this.deleteAt(n.left, start, end);
    else if (c > 0) n.right = this.deleteAt(n.right, start, end);
    else {
      if (n.left === undefined) {
        this.count--;
        return n.right;
      }
      if (n.right === undefined) {
        this.count--;
        return n.left;
      }
      // Rotate the node down below its higher-priority child, then delete it there.
      const top = n.left.priority > n.right.priority ? rotateRight(n) : rotateLeft(n);
      if (top.left === n) top.left = this.deleteAt(n, start, end);
      else top.right = this.deleteAt(n, start, end);
      update(top);
      return top;
    }
    update(n);
    return n;
  }
}
