/** @etcd-ts/etcd: the etcd executable's entry point and flag parsing. */
export {
  FLAGS,
  FlagError,
  type FlagKind,
  type FlagRelease,
  type FlagSpec,
  type FlagValues,
  flagToEnv,
  HelpRequested,
  helpText,
  IGNORED_FLAGS,
  logSettings,
  type ParsedFlags,
  parseFlags,
  toEmbedConfig,
} from './flags.js';
export { createLogger } from './logger.js';
export { main } from './main.js';
