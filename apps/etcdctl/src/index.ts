/**
 * @etcd-ts/etcdctl: the etcdctl command line, as a function (the `etcdctl` executable
 * calls `main`), plus the pieces other tools reuse.
 */
export { snapshotStatus } from './cmd-snapshot.js';
export { ExitCode } from './errors.js';
export { buildProgram, main } from './main.js';
export { renderTable } from './table.js';
