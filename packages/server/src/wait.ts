/**
 * etcd's wait.Wait: callers register an id and get a promise; the applier triggers the id
 * with its result. Triggering an id nobody waits for (a request another member proposed,
 * or one that timed out) is a no-op.
 */
export class Wait<T> {
  private readonly waiters = new Map<bigint, (v: T) => void>();

  register(id: bigint): Promise<T> {
    if (this.waiters.has(id)) throw new Error(`wait: duplicate id ${id.toString(16)}`);
    return new Promise<T>((resolve) => this.waiters.set(id, resolve));
  }

  isRegistered(id: bigint): boolean {
    return this.waiters.has(id);
  }

  trigger(id: bigint, value: T): void {
    const w = this.waiters.get(id);
    if (w === undefined) return;
    this.waiters.delete(id);
    w(value);
  }

  /** Forgets a waiter (its request timed out); a later trigger is dropped. */
  cancel(id: bigint): void {
    this.waiters.delete(id);
  }

  /** Resolves every waiter with `value` (the server is stopping). */
  triggerAll(value: T): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of all) w(value);
  }

  get size(): number {
    return this.waiters.size;
  }
}
