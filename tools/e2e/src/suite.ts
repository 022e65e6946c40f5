import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseTestList } from './select.js';

/** Where Debian's golang-etcd-server-dev puts etcd 3.4's Go tree (GOPATH layout). */
export const DEBIAN_GOPATH = '/usr/share/gocode';
export const DEBIAN_ETCD_SRC = join(DEBIAN_GOPATH, 'src', 'go.etcd.io', 'etcd');
/** Debian's golang-1.19-go, the Go that builds Debian's etcd 3.4 tree. */
export const DEBIAN_GO = '/usr/lib/go-1.19/bin/go';

export interface SuiteSource {
  /** The etcd tree (with tests/e2e and integration/fixtures), inside `gopath`. */
  readonly etcdSrc: string;
  /** The GOPATH the tree builds in (GO111MODULE=off). */
  readonly gopath: string;
  /** The go command. */
  readonly go: string;
}

export function defaultSource(): SuiteSource {
  return {
    etcdSrc: process.env.ETCD_E2E_SRC ?? DEBIAN_ETCD_SRC,
    gopath: process.env.ETCD_E2E_GOPATH ?? DEBIAN_GOPATH,
    go: process.env.ETCD_E2E_GO ?? DEBIAN_GO,
  };
}

/** `$ETCD_E2E_CACHE`, else `$XDG_CACHE_HOME/etcd-ts/e2e`, else `~/.cache/etcd-ts/e2e`. */
export function defaultCacheDir(): string {
  if (process.env.ETCD_E2E_CACHE) return process.env.ETCD_E2E_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'etcd-ts', 'e2e');
}

/** The built suite. */
export interface Suite {
  /** etcd's version the suite was built from, as its version/version.go says. */
  readonly etcdVersion: string;
  /** The compiled tests/e2e (`go test -c`). */
  readonly testBin: string;
  /** A copy of the tree's integration/fixtures, as `<integrationDir>/fixtures`. */
  readonly integrationDir: string;
  /** Whether this call built it (false: found in the cache). */
  readonly built: boolean;
}

/** etcd's version from the tree's version/version.go (`Version = "3.4.23"`). */
export function etcdVersionOf(etcdSrc: string): string {
  const file = join(etcdSrc, 'version', 'version.go');
  const m = /\bVersion\s*=\s*"([^"]+)"/.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no Version in ${file}`);
  return m[1]!;
}

function goVersionOf(go: string): string {
  return execFileSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
}

/** Says what is missing to build the suite, or undefined when it can be built. */
export function missingToolchain(src: SuiteSource): string | undefined {
  if (!existsSync(src.go)) return `${src.go} (apt-get install -y golang-1.19-go)`;
  if (!existsSync(join(src.etcdSrc, 'tests', 'e2e', 'main_test.go')))
    return `${src.etcdSrc}/tests/e2e (apt-get install -y golang-etcd-server-dev)`;
  return undefined;
}

/**
 * The suite, built into `<cacheDir>/etcd-<version>-<go version>/` unless it is there
 * already (or `rebuild`): `go test -c ./tests/e2e` in GOPATH mode (GO111MODULE=off), the Go
 * build cache kept beside it, and a copy of integration/fixtures. The Go tree is only read.
 */
export function ensureSuite(
  cacheDir: string,
  src: SuiteSource = defaultSource(),
  opts: { rebuild?: boolean; log?: (line: string) => void } = {},
): Suite {
  const missing = missingToolchain(src);
  if (missing !== undefined) throw new Error(`cannot build etcd's e2e suite: missing ${missing}`);
  const etcdVersion = etcdVersionOf(src.etcdSrc);
  const dir = join(cacheDir, `etcd-${etcdVersion}-${goVersionOf(src.go)}`);
  const testBin = join(dir, 'e2e.test');
  const integrationDir = join(dir, 'integration');
  const fixtures = join(integrationDir, 'fixtures');
  if (!opts.rebuild && existsSync(testBin) && existsSync(join(fixtures, 'ca.crt')))
    return { etcdVersion, testBin, integrationDir, built: false };

  mkdirSync(dir, { recursive: true });
  opts.log?.(`building etcd ${etcdVersion}'s tests/e2e into ${dir} (once; a minute or two)`);
  const tmpBin = `${testBin}.${process.pid}.tmp`;
  const r = spawnSync(src.go, ['test', '-c', '-o', tmpBin, './tests/e2e'], {
    cwd: src.etcdSrc,
    env: {
      ...process.env,
      GOPATH: src.gopath,
      GO111MODULE: 'off',
      GOFLAGS: '',
      GOCACHE: join(cacheDir, 'gocache'),
      CGO_ENABLED: process.env.CGO_ENABLED ?? '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    rmSync(tmpBin, { force: true });
    throw new Error(`go test -c ./tests/e2e failed (exit ${r.status ?? r.signal})`);
  }
  rmSync(integrationDir, { recursive: true, force: true });
  cpSync(join(src.etcdSrc, 'integration', 'fixtures'), fixtures, { recursive: true });
  renameSync(tmpBin, testBin);
  return { etcdVersion, testBin, integrationDir, built: true };
}

/** The suite's test names, in its order (`-test.list .*`). */
export function listTests(testBin: string): string[] {
  const out = execFileSync(testBin, ['-test.list', '.*'], {
    encoding: 'utf8',
    cwd: '/',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseTestList(out);
}
