/** @etcd-ts/etcd: the etcd executable's entry point and flag parsing. */
export { FlagError, type FlagValues, parseFlags, toEmbedConfig } from './flags.js';
export { createLogger } from './logger.js';
export { main } from './main.js';
