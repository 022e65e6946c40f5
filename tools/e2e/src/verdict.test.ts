import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { countOf, lastLines, summaryLine, type Verdict, VerdictFile } from './verdict.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'e2e-verdict-'));
  dirs.push(d);
  return d;
}

const pass: Verdict = {
  result: 'pass',
  seconds: 1.25,
  leftovers: 0,
  tail: ['--- PASS: TestA (1.20s)'],
};

describe('VerdictFile', () => {
  it('writes test name → verdict as JSON after every test, starting empty', () => {
    const path = join(tempDir(), 'out', 'verdict.json');
    const file = new VerdictFile(path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({});

    file.record('TestA', pass);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ TestA: pass });

    const fail: Verdict = { result: 'fail', seconds: 0.5, leftovers: 2, tail: ['--- FAIL: TestB'] };
    const timeout: Verdict = { result: 'timeout', seconds: 120, leftovers: 1, tail: [] };
    file.record('TestB', fail);
    file.record('TestC', timeout);
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    expect(onDisk).toEqual({ TestA: pass, TestB: fail, TestC: timeout });
    expect(Object.keys(onDisk)).toEqual(['TestA', 'TestB', 'TestC']);
    // Written through a rename: no temporary file is left beside it.
    expect(readdirSync(join(path, '..'))).toEqual(['verdict.json']);
    expect(file.counts()).toEqual({ passed: 1, failed: 2, total: 3 });
  });
});

describe('summaryLine', () => {
  it('counts a timeout as a failure', () => {
    const counts = countOf({
      A: pass,
      B: { ...pass, result: 'fail' },
      C: { ...pass, result: 'timeout' },
      D: pass,
    });
    expect(summaryLine(counts)).toBe('2 passed, 2 failed of 4');
    expect(summaryLine(countOf({}))).toBe('0 passed, 0 failed of 0');
  });
});

describe('lastLines', () => {
  it('keeps the last non-empty lines without the pty carriage returns', () => {
    expect(lastLines('a\r\nb\r\n\r\nc\r\n\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('a\nb', 10)).toEqual(['a', 'b']);
    expect(lastLines('a\nb', 0)).toEqual([]);
  });
});
