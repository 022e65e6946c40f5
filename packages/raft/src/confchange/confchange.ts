// The Changer computes the configuration (and the Progress map) that results
// from applying configuration changes to the current one, without touching
// the current one: raft installs the result only when it is valid. Simple
// changes alter at most one voter; anything else goes through joint
// consensus (enterJoint, then leaveJoint).

import { type ConfChangeSingle, ConfChangeType } from '../raftpb.js';
import { Progress } from '../tracker/progress.js';
import {
  cloneTrackerConfig,
  type ProgressMap,
  type ProgressTracker,
  type TrackerConfig,
  trackerConfigString,
} from '../tracker/tracker.js';

export class ConfChangeError extends Error {
  override name = 'ConfChangeError';
}

export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

const typeNames = ['AddNode', 'RemoveNode', 'UpdateNode', 'AddLearnerNode'];

/** "AddNode(2) RemoveNode(3)": the notation of etcd's confchange tests. */
export function describeConfChanges(ccs: ConfChangeSingle[]): string {
  return ccs.map((cc) => `${typeNames[cc.type] ?? cc.type}(${cc.nodeId})`).join(' ');
}

export class Changer {
  constructor(
    readonly tracker: ProgressTracker,
    /** The leader's last index: where new members' Progress starts probing. */
    readonly lastIndex: number,
  ) {}

  /**
   * Enters a joint configuration: the current voters become the outgoing
   * half, the changes are applied to the incoming half.
   */
  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (joint(cfg)) throw new ConfChangeError('config is already joint');
    if (cfg.voters[0].size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
    cfg.voters[1] = new Set(cfg.voters[0]);
    this.apply(cfg, prs, ccs);
    cfg.autoLeave = autoLeave;
    return checkAndReturn(cfg, prs);
  }

  /**
   * Leaves a joint configuration: the outgoing half is dropped, LearnersNext
   * become learners, and members in neither half lose their Progress.
   */
  leaveJoint(): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (!joint(cfg)) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      prs.get(id)!.isLearner = true;
    }
    cfg.learnersNext = new Set();
    for (const id of cfg.voters[1]) {
      if (!cfg.voters[0].has(id) && !cfg.learners.has(id)) prs.delete(id);
    }
    cfg.voters[1] = new Set();
    cfg.autoLeave = false;
    return checkAndReturn(cfg, prs);
  }

  /** Applies changes that alter at most one voter, outside of joint consensus. */
  simple(ccs: ConfChangeSingle[]): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (joint(cfg)) throw new ConfChangeError("can't apply simple config change in joint config");
    this.apply(cfg, prs, ccs);
    if (symdiff(this.tracker.config.voters[0], cfg.voters[0]) > 1) {
      throw new ConfChangeError('more than one voter changed without entering joint config');
    }
    return checkAndReturn(cfg, prs);
  }

  private apply(cfg: TrackerConfig, prs: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (cc.nodeId === 0n) continue; // etcd uses a zero id as a no-op change
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          this.remove(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          break;
        default:
          throw new ConfChangeError(`unexpected conf type ${cc.type}`);
      }
    }
    if (cfg.voters[0].size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(cfg: TrackerConfig, prs: ProgressMap, id: bigint): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.voters[0].add(id);
  }

  // A voter of the outgoing half that is demoted while joint stays a voter
  // there until the joint configuration is left: it goes to LearnersNext.
  private makeLearner(cfg: TrackerConfig, prs: ProgressMap, id: bigint): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, true);
      return;
    }
    if (pr.isLearner) return;
    this.remove(cfg, prs, id);
    prs.set(id, pr); // remove() may have dropped it; keep the Progress
    if (cfg.voters[1].has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  private remove(cfg: TrackerConfig, prs: ProgressMap, id: bigint): void {
    if (!prs.has(id)) return;
    cfg.voters[0].delete(id);
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    // A voter of the outgoing half keeps its Progress until leaveJoint.
    if (!cfg.voters[1].has(id)) prs.delete(id);
  }

  private initProgress(cfg: TrackerConfig, prs: ProgressMap, id: bigint, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.voters[0].add(id);
    // New members start probing at the leader's last index, and count as
    // active so that CheckQuorum does not step the leader down before they
    // had a chance to answer.
    prs.set(
      id,
      new Progress(this.tracker.newInflights(), {
        next: this.lastIndex,
        match: 0,
        isLearner,
        recentActive: true,
      }),
    );
  }

  private checkAndCopy(): ChangeResult {
    const cfg = cloneTrackerConfig(this.tracker.config);
    const prs: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) prs.set(id, pr.clone());
    return checkAndReturn(cfg, prs);
  }
}

function joint(cfg: TrackerConfig): boolean {
  return cfg.voters[1].size > 0;
}

function symdiff(l: Set<bigint>, r: Set<bigint>): number {
  let n = 0;
  for (const id of l) if (!r.has(id)) n++;
  for (const id of r) if (!l.has(id)) n++;
  return n;
}

function checkInvariants(cfg: TrackerConfig, prs: ProgressMap): void {
  for (const ids of [cfg.voters[0], cfg.voters[1], cfg.learners, cfg.learnersNext]) {
    for (const id of ids) {
      if (!prs.has(id)) throw new ConfChangeError(`no progress for ${id}`);
    }
  }
  for (const id of cfg.learnersNext) {
    if (!cfg.voters[1].has(id))
      throw new ConfChangeError(`${id} is in LearnersNext, but not Voters[1]`);
    if (prs.get(id)!.isLearner) {
      throw new ConfChangeError(`${id} is in LearnersNext, but is already marked as learner`);
    }
  }
  for (const id of cfg.learners) {
    if (cfg.voters[1].has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[1]`);
    if (cfg.voters[0].has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[0]`);
    if (!prs.get(id)!.isLearner) {
      throw new ConfChangeError(`${id} is in Learners, but is not marked as learner`);
    }
  }
  if (!joint(cfg)) {
    if (cfg.learnersNext.size > 0)
      throw new ConfChangeError('cfg.LearnersNext must be nil when not joint');
    if (cfg.autoLeave) throw new ConfChangeError('AutoLeave must be false when not joint');
  }
}

function checkAndReturn(cfg: TrackerConfig, prs: ProgressMap): ChangeResult {
  checkInvariants(cfg, prs);
  return { config: cfg, progress: prs };
}

export { trackerConfigString };
