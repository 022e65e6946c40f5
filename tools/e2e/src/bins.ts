import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file is tools/e2e/{src,dist}/bins.*). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Debian's etcd-server and etcd-client, etcd 3.4.23. */
export const DEBIAN_ETCD = '/usr/bin/etcd';
export const DEBIAN_ETCDCTL = '/usr/bin/etcdctl';
/** Ours: apps/etcd and apps/etcdctl (their bins load ../dist, so `pnpm build` first). */
export const OUR_ETCD = join(REPO_ROOT, 'apps', 'etcd', 'bin', 'etcd');
export const OUR_ETCDCTL = join(REPO_ROOT, 'apps', 'etcdctl', 'bin', 'etcdctl');

export const SERVERS = { 'etcd-ts': OUR_ETCD, etcd: DEBIAN_ETCD } as const;
export const CLIENTS = { 'etcdctl-ts': OUR_ETCDCTL, etcdctl: DEBIAN_ETCDCTL } as const;

/**
 * The executable a `--server`/`--client` value names: one of the known names, or a path
 * (relative to `cwd`).
 */
export function resolveBin(value: string, known: Record<string, string>, cwd: string): string {
  const path = known[value] ?? (isAbsolute(value) ? value : resolve(cwd, value));
  if (!existsSync(path)) throw new Error(`${value}: ${path} does not exist`);
  return realpathSync(path);
}

/**
 * A bin dir for the suite's -bin-dir: `etcd` and `etcdctl` as symlinks to the chosen
 * executables. The suite runs `<bin-dir>/etcd <its flags>` on a pty exactly as it runs
 * etcd's own binary; our bins are node scripts that find their dist through their real
 * path, so a symlink is all they need.
 */
export function makeBinDir(dir: string, etcd: string, etcdctl: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(etcd, join(dir, 'etcd'));
  symlinkSync(etcdctl, join(dir, 'etcdctl'));
  return dir;
}
