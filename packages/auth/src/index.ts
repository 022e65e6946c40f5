/**
 * @etcd-ts/auth: etcd's auth store — users with bcrypt-hashed passwords, roles, key-range
 * permissions checked against a cached merged interval set per user, enable/disable with
 * the root rules, the auth revision, and simple or JWT tokens — persisted in the backend's
 * auth, authUsers and authRoles buckets as etcd stores them.
 */
export * from './errors.js';
export {
  IntervalSet,
  isOpenEnded,
  isRangeOpPermitted,
  isValidPermissionRange,
  mergePermissions,
  permissionInterval,
  type UnifiedPermissions,
} from './range_perm.js';
export {
  AUTH_ENABLED_KEY,
  AUTH_REVISION_KEY,
  type AuthBackend,
  AuthStore,
  type AuthStoreConfig,
  BCRYPT_DEFAULT_COST,
  BCRYPT_MAX_COST,
  BCRYPT_MAX_PASSWORD_BYTES,
  BCRYPT_MIN_COST,
  hashPassword,
  MAX_AUTHENTICATE_ATTEMPTS,
  ROOT_ROLE,
  ROOT_USER,
} from './store.js';
export {
  type AssignParams,
  type AuthInfo,
  type AuthLogger,
  type AuthTokenOptions,
  type Clock,
  DEFAULT_JWT_TTL_MS,
  DEFAULT_SIMPLE_TOKEN_TTL_MS,
  type IndexWaiter,
  type JwtTokenOptions,
  JwtTokenProvider,
  NopTokenProvider,
  newTokenProvider,
  parseAuthTokenOptions,
  parseGoDuration,
  type SimpleTokenOptions,
  SimpleTokenProvider,
  systemClock,
  type TokenProvider,
  type TokenProviderConfig,
} from './tokens.js';
