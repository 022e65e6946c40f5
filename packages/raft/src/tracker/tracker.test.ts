import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.js';
import { Progress, ProgressState } from './progress.js';

describe('Inflights', () => {
  it('adds, frees and wraps around', () => {
    const ins = new Inflights(10);
    for (let i = 0; i < 5; i++) ins.add(i, 100 + i);
    expect(ins.count()).toBe(5);
    expect(ins.bytes()).toBe(510);
    ins.freeLE(1);
    expect(ins.count()).toBe(3);
    expect(ins.bytes()).toBe(102 + 103 + 104);
    for (let i = 5; i < 12; i++) ins.add(i, 1);
    expect(ins.full()).toBe(true);
    expect(() => ins.add(12, 1)).toThrow(/Full inflights/);
    ins.freeLE(8);
    expect(ins.count()).toBe(3);
    ins.freeLE(11);
    expect(ins.count()).toBe(0);
    expect(ins.bytes()).toBe(0);
  });

  it('is full by bytes as well as by count', () => {
    const ins = new Inflights(10, 1000);
    ins.add(1, 600);
    expect(ins.full()).toBe(false);
    ins.add(2, 400);
    expect(ins.full()).toBe(true);
    ins.freeFirstOne();
    expect(ins.full()).toBe(false);
    expect(ins.bytes()).toBe(400);
  });

  it('freeLE of a stale index frees nothing', () => {
    const ins = new Inflights(4);
    ins.add(5, 1);
    ins.freeLE(4);
    expect(ins.count()).toBe(1);
  });
});

describe('Progress', () => {
  const pr = (state: number, match: number, next: number) => {
    const p = new Progress(new Inflights(256), { match, next });
    p.state = state as ProgressState;
    return p;
  };

  it('becomeProbe after a snapshot starts after the snapshot', () => {
    const cases: [Progress, number][] = [
      [pr(ProgressState.StateReplicate, 1, 5), 2],
      [Object.assign(pr(ProgressState.StateSnapshot, 1, 5), { pendingSnapshot: 10 }), 11],
      [Object.assign(pr(ProgressState.StateSnapshot, 1, 5), { pendingSnapshot: 0 }), 2],
    ];
    for (const [p, wnext] of cases) {
      p.becomeProbe();
      expect(p.state).toBe(ProgressState.StateProbe);
      expect(p.next).toBe(wnext);
    }
  });

  it('becomeReplicate and becomeSnapshot', () => {
    const p = pr(ProgressState.StateProbe, 1, 5);
    p.becomeReplicate();
    expect(p.next).toBe(2);
    p.becomeSnapshot(10);
    expect(p.state).toBe(ProgressState.StateSnapshot);
    expect(p.pendingSnapshot).toBe(10);
    expect(p.isPaused()).toBe(true);
  });

  it('maybeUpdate', () => {
    const prevM = 3;
    const prevN = 5;
    for (const [update, wm, wn, wok] of [
      [prevM - 1, prevM, prevN, false],
      [prevM, prevM, prevN, false],
      [prevM + 1, prevM + 1, prevN, true],
      [prevM + 2, prevM + 2, prevN + 1, true],
    ] as const) {
      const p = pr(ProgressState.StateProbe, prevM, prevN);
      expect(p.maybeUpdate(update)).toBe(wok);
      expect(p.match).toBe(wm);
      expect(p.next).toBe(wn);
    }
  });

  it('maybeDecrTo', () => {
    const cases: [number, number, number, number, number, boolean, number][] = [
      // state, match, next, rejected, last, wok, wnext
      [ProgressState.StateReplicate, 5, 10, 5, 5, false, 10], // stale
      [ProgressState.StateReplicate, 5, 10, 4, 4, false, 10], // stale
      [ProgressState.StateReplicate, 5, 10, 9, 9, true, 6], // restart from match+1
      [ProgressState.StateProbe, 0, 0, 0, 0, false, 0], // next-1 != rejected
      [ProgressState.StateProbe, 0, 10, 5, 5, false, 10],
      [ProgressState.StateProbe, 0, 10, 9, 9, true, 9],
      [ProgressState.StateProbe, 0, 2, 1, 1, true, 1],
      [ProgressState.StateProbe, 0, 1, 0, 0, true, 1], // never below 1
      [ProgressState.StateProbe, 0, 10, 9, 2, true, 3], // the hint jumps back
      [ProgressState.StateProbe, 0, 10, 9, 0, true, 1],
    ];
    for (const [state, m, n, rejected, last, wok, wn] of cases) {
      const p = pr(state, m, n);
      expect(p.maybeDecrTo(rejected, last)).toBe(wok);
      expect(p.match).toBe(m);
      expect(p.next).toBe(wn);
    }
  });

  it('probe pauses after one message; replicate pauses when the window is full', () => {
    const p = pr(ProgressState.StateProbe, 0, 1);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(1, 10);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(1);
    expect(p.isPaused()).toBe(false);
    const r = new Progress(new Inflights(2), { match: 0, next: 1 });
    r.becomeReplicate();
    r.sentEntries(3, 30);
    expect(r.next).toBe(4);
    expect(r.isPaused()).toBe(false);
    r.sentEntries(1, 10);
    expect(r.isPaused()).toBe(true);
    r.inflights.freeLE(3);
    expect(r.isPaused()).toBe(false);
  });
});
