import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Result = 'pass' | 'fail' | 'timeout';

/** What one test came to. */
export interface Verdict {
  readonly result: Result;
  /** Wall time of the test's process, in seconds (millisecond precision). */
  readonly seconds: number;
  /** Processes still alive after the test's process ended, killed by the runner. */
  readonly leftovers: number;
  /** 2 when the first run failed only by the suite's goroutine check (absent otherwise). */
  readonly attempts?: number;
  /** The last lines of the test's output (stdout and stderr together). */
  readonly tail: string[];
}

/** The verdict file's content: test name → verdict, in the order the tests finished. */
export type Verdicts = Record<string, Verdict>;

/** The last `n` non-empty lines of `text`, carriage returns (the suite's ptys) removed. */
export function lastLines(text: string, n: number): string[] {
  if (n <= 0) return [];
  const lines = text
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  return lines.slice(-n);
}

export interface Counts {
  readonly passed: number;
  readonly failed: number;
  readonly total: number;
}

/** Passed and failed (a timeout is a failure) over every verdict. */
export function countOf(verdicts: Verdicts): Counts {
  let passed = 0;
  let failed = 0;
  for (const v of Object.values(verdicts)) {
    if (v.result === 'pass') passed++;
    else failed++;
  }
  return { passed, failed, total: passed + failed };
}

/** `N passed, M failed of K`: the runner's closing line. */
export function summaryLine(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed of ${c.total}`;
}

/**
 * The verdict file of a run, rewritten (atomically, through a temporary file and a rename)
 * after every test, so an interrupted run still leaves the verdicts it reached.
 */
export class VerdictFile {
  readonly verdicts: Verdicts = {};

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.flush();
  }

  record(name: string, verdict: Verdict): void {
    this.verdicts[name] = verdict;
    this.flush();
  }

  counts(): Counts {
    return countOf(this.verdicts);
  }

  private flush(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.verdicts, null, 2)}\n`);
    renameSync(tmp, this.path);
  }
}
