/**
 * The lessor's only source of time. Expiries live in memory and are re-derived from the
 * TTLs on every promotion, so a monotonic clock is right: wall-clock jumps must not
 * expire leases.
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin; never decreases. */
  now(): number;
}

/** The process's monotonic clock. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that only moves when told to, for tests and simulations. */
export class ManualClock implements Clock {
  private ms: number;

  constructor(startMs = 0) {
    this.ms = startMs;
  }

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`clock: cannot move back by ${ms} ms`);
    this.ms += ms;
  }
}
