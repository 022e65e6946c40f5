import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What marks a test's processes. The suite starts every etcd and etcdctl on a pty of its own
 * (a new session, so a new process group): killing the test's process group misses them.
 * They are found instead by the marker variable they inherit, by an argument under the
 * test's temporary dir (`--data-dir`, snapshot files) or by a working dir under it.
 */
export interface Marks {
  /** `NAME=value` in the process's environment. */
  readonly env?: string;
  /** An absolute dir: an argument or the working dir under it marks the process. */
  readonly dir?: string;
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function readNul(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'latin1').split('\0');
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Whether the process `pid` carries one of the marks (false when it is gone). */
export function isMarked(pid: number, marks: Marks): boolean {
  if (marks.env !== undefined) {
    const env = readNul(`/proc/${pid}/environ`);
    if (env?.includes(marks.env)) return true;
  }
  if (marks.dir !== undefined) {
    const dir = marks.dir;
    const argv = readNul(`/proc/${pid}/cmdline`);
    if (argv?.some((a) => under(a, dir) || a.includes(`=${dir}/`) || a.endsWith(`=${dir}`)))
      return true;
    try {
      if (under(readlinkSync(`/proc/${pid}/cwd`), dir)) return true;
    } catch {
      // gone, a zombie, or not ours
    }
  }
  return false;
}

/** Every live process (never this one) carrying one of the marks. */
export function findMarked(marks: Marks): number[] {
  if (marks.env === undefined && marks.dir === undefined) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || pid === 1) continue;
    if (isMarked(pid, marks)) found.push(pid);
  }
  return found;
}

/** SIGKILL to the process group `pgid`; false when there is no such group any more. */
export function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills (SIGKILL) every process carrying one of the marks, again until none is left (a
 * process may start another while it is being killed), and returns the pids killed.
 * Throws when some survive `timeoutMs`.
 */
export async function killMarked(marks: Marks, timeoutMs = 10_000): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = findMarked(marks);
    if (live.length === 0) return [...killed];
    if (Date.now() > deadline)
      throw new Error(`processes still alive after SIGKILL: ${live.join(', ')}`);
    for (const pid of live) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    await sleep(50);
  }
}
