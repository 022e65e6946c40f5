import type { ReadState } from '@etcd-ts/raft';
import type { Clock, Timer } from './clock.js';
import { Errors } from './errors.js';

interface Waiter {
  index: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Callers waiting for the applied index to reach theirs (etcd's applyWait): confirmed
 * linearizable reads, simple tokens naming the raft index that issued them, lease calls
 * that need everything committed applied first. The raft loop advances it after each
 * batch of committed entries.
 */
export class AppliedIndexWaiters {
  private applied: number;
  private readonly waiters: Waiter[] = [];

  constructor(appliedIndex: number) {
    this.applied = appliedIndex;
  }

  /** Resolves once the applied index reaches `index`; rejects if `signal` aborts first. */
  wait(index: number, signal?: AbortSignal): Promise<void> {
    if (index <= this.applied) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const w: Waiter = {
        index,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  advance(applied: number): void {
    this.applied = applied;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.index <= applied) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  rejectAll(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}

/** What a ReadIndex round needs from the member. */
export interface ReadIndexDeps {
  clock: Clock;
  requestTimeoutMs: number;
  /** How often a round asks again while it has no answer (leadership may be moving). */
  retryMs: number;
  /** A fresh request context (unique among the rounds in flight). */
  nextCtx(): Uint8Array;
  /** Asks raft for the commit index the leader confirms (RawNode.readIndex). */
  readIndex(ctx: Uint8Array): void;
  applied: AppliedIndexWaiters;
}

interface Round {
  ctx: Buffer;
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
  retry: Timer;
  deadline: Timer;
}

/**
 * Linearizable reads (etcd's linearizableReadLoop): a read resolves once this member has
 * applied everything that was committed when it arrived, as confirmed by the leader.
 * Concurrent reads share one ReadIndex round: the round in flight serves every read that
 * arrived before it started; the reads arriving meanwhile wait for the next.
 */
export class LinearizableReads {
  private pending: Round['waiters'] = [];
  private round: Round | undefined;
  private stopped = false;

  constructor(private readonly d: ReadIndexDeps) {}

  /** Resolves when a read may be served locally (etcd's linearizableReadNotify). */
  notify(): Promise<void> {
    if (this.stopped) return Promise.reject(Errors.stopped());
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.startRound();
    });
  }

  private startRound(): void {
    if (this.round !== undefined || this.pending.length === 0 || this.stopped) return;
    const ctx = Buffer.from(this.d.nextCtx());
    const round: Round = {
      ctx,
      waiters: this.pending,
      // The new leader may not have committed in its term yet: ask again until the deadline.
      retry: this.d.clock.every(this.d.retryMs, () => this.d.readIndex(ctx)),
      deadline: this.d.clock.after(this.d.requestTimeoutMs, () =>
        this.finish(round, Errors.timeout()),
      ),
    };
    this.pending = [];
    this.round = round;
    this.d.readIndex(ctx);
  }

  private finish(round: Round, err: Error | undefined): void {
    round.retry.cancel();
    round.deadline.cancel();
    if (this.round === round) this.round = undefined;
    if (err !== undefined) for (const w of round.waiters) w.reject(err);
    this.startRound();
  }

  /** Raft's answers: the round whose context matches goes once applied reaches its index. */
  onReadStates(states: readonly ReadState[]): void {
    const round = this.round;
    if (round === undefined) return;
    for (const rs of states) {
      if (!round.ctx.equals(Buffer.from(rs.requestCtx))) continue;
      this.finish(round, undefined);
      const waiters = round.waiters;
      this.d.applied.wait(rs.index).then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (err: Error) => {
          for (const w of waiters) w.reject(err);
        },
      );
      return;
    }
  }

  /**
   * A new leader: the round in flight fails with "etcdserver: leader changed", a retryable
   * error (etcd's requestCurrentIndex), since the old leader's confirmation may never come.
   */
  onLeaderChange(): void {
    if (this.round !== undefined) this.finish(this.round, Errors.leaderChanged());
  }

  stop(err: Error): void {
    this.stopped = true;
    if (this.round !== undefined) this.finish(this.round, err);
    for (const w of this.pending.splice(0)) w.reject(err);
  }
}
