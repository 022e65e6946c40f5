export { makeCerts, type TestCerts } from './certs.js';
export {
  type ClusterMember,
  type ClusterOptions,
  type EtcdCluster,
  startCluster,
} from './cluster.js';
export {
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  type EtcdProcess,
  type EtcdProcessOptions,
  type EtcdSpawnOptions,
  inCI,
  REAL_ETCD_BIN,
  REAL_ETCDCTL_BIN,
  realEtcdAvailable,
  spawnEtcd,
  startEtcd,
} from './etcd.js';
export { call, errorOf, type UnaryMethod, unary } from './grpc.js';
export { freePort } from './ports.js';
export { rng } from './random.js';
