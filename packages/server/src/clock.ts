/** A pending timer: cancel it, or let it not hold the process open. */
export interface Timer {
  cancel(): void;
  unref(): void;
}

/**
 * The server's only source of time (etcd's clockwork.Clock): wall time for ids and
 * timers for ticks, timeouts and retries. Everything in the server takes one, so whole
 * members can run under simulated time; `realClock` is the process's.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Timer;
  /** Runs `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Timer;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t), unref: () => void t.unref() };
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t), unref: () => void t.unref() };
  },
};

/** Rejects with `onTimeout()` unless `p` settles within `ms` (etcd's context deadline). */
export function withTimeout<T>(
  clock: Clock,
  p: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.after(ms, () => reject(onTimeout()));
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (err) => {
        timer.cancel();
        reject(err);
      },
    );
  });
}

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
