import { etcdserverpb } from '@etcd-ts/api';
import type { AuthInfo } from '@etcd-ts/auth';
import { type ConfChange, ErrProposalDropped } from '@etcd-ts/raft';
import type { ApplyResult } from './apply/applier.js';
import { type Clock, withTimeout } from './clock.js';
import { Errors } from './errors.js';
import type { RequestIdGenerator } from './ids.js';
import type { RaftResponses } from './responses.js';
import { Wait } from './wait.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/** etcd's maxGapBetweenApplyAndCommitIndex: beyond it proposals get "too many requests". */
export const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;

/** A request kind's response, and for a compaction the promise of its physical removal. */
export interface Proposed<K extends keyof RaftResponses> {
  resp: RaftResponses[K];
  physc?: Promise<void>;
}

/** What proposing needs of its member. */
export interface ProposerDeps {
  clock: Clock;
  reqIds: RequestIdGenerator;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  /** How far applying lags committing. */
  applyLag(): number;
  hasLeader(): boolean;
  /** Throws "server stopped" once the member is stopping. */
  checkRunning(): void;
  isStopping(): boolean;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
}

/**
 * Requests through raft (etcd's processInternalRaftRequestOnce and wait.Wait): each gets a
 * unique id, is encoded and proposed, and its caller waits on the id until the entry
 * applies (the applier triggers it) or the request timeout passes.
 */
export class Proposer {
  private readonly wait = new Wait<ApplyResult>();

  constructor(private readonly d: ProposerDeps) {}

  /**
   * Proposes one request of kind `kind` as `user` and waits for its apply result: refuses
   * requests larger than --max-request-bytes and new work while applying lags far behind
   * committing.
   */
  async propose<K extends keyof RaftResponses>(
    kind: K,
    req: InternalRaftRequest[K],
    user?: AuthInfo,
  ): Promise<Proposed<K>> {
    this.d.checkRunning();
    if (this.d.applyLag() > MAX_GAP_BETWEEN_APPLY_AND_COMMIT) throw Errors.tooManyRequests();
    const id = this.d.reqIds.next();
    const r = etcdserverpb.InternalRaftRequest.create();
    r[kind] = req;
    r.header = { ID: id, username: user?.username ?? '', authRevision: user?.revision ?? 0 };
    const data = etcdserverpb.InternalRaftRequest.encode(r).finish();
    if (data.length > this.d.maxRequestBytes) throw Errors.requestTooLarge();
    const result = await this.waitFor(id, () => this.d.propose(data));
    if (result.err !== undefined) throw result.err;
    // The applier answered the request kind it was given (apply/applier.ts dispatch);
    // Authenticate's token comes as a promise (JWT signing).
    const resp = (await result.resp) as RaftResponses[K];
    return result.physc === undefined ? { resp } : { resp, physc: result.physc };
  }

  /** Proposes a membership change and waits until it is applied. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<void> {
    this.d.checkRunning();
    const id = this.d.reqIds.next();
    const result = await this.waitFor(id, () => this.d.proposeConfChange({ ...cc, id }));
    if (result.err !== undefined) throw result.err;
  }

  /** An entry applied: its proposer, if it waits here, gets the result. */
  trigger(id: bigint, result: ApplyResult): void {
    this.wait.trigger(id, result);
  }

  /** The member stops: every waiting request fails with `err`. */
  failAll(err: Error): void {
    this.wait.triggerAll({ err });
  }

  /** Registers `id`, runs `submit`, and waits for the entry's result or the timeout. */
  private waitFor(id: bigint, submit: () => void): Promise<ApplyResult> {
    const done = this.wait.register(id);
    try {
      submit();
    } catch (err) {
      this.wait.cancel(id);
      if (err instanceof ErrProposalDropped)
        throw this.d.hasLeader() ? Errors.timeout() : Errors.noLeader();
      throw err;
    }
    return withTimeout(this.d.clock, done, this.d.requestTimeoutMs, () => {
      this.wait.cancel(id);
      return this.d.isStopping() ? Errors.stopped() : Errors.timeout();
    });
  }
}
