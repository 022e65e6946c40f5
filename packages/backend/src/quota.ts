/** etcd's default backend quota (2 GiB) and its ceiling (8 GiB, beyond which it warns). */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;
export const MAX_QUOTA_BYTES = 8 * 1024 ** 3;
/** etcd's estimate of the bytes a key-value pair costs beyond its key and value. */
export const KV_OVERHEAD_BYTES = 256;
/** etcd's estimate of the bytes one lease costs. */
export const LEASE_OVERHEAD_BYTES = 64;

export interface SizedBackend {
  size(): number;
}

/**
 * etcd's backend quota: a request may proceed only while the backend's size plus the
 * request's cost stays below the quota. A quota of 0 means the default; a negative quota
 * disables the check (etcd's passthrough quota).
 */
export class BackendQuota {
  readonly quotaBytes: number;

  constructor(
    private readonly backend: SizedBackend,
    quotaBytes = 0,
  ) {
    this.quotaBytes = quotaBytes === 0 ? DEFAULT_QUOTA_BYTES : quotaBytes;
  }

  get enabled(): boolean {
    return this.quotaBytes > 0;
  }

  /** Whether a request costing `costBytes` fits. */
  available(costBytes: number): boolean {
    if (!this.enabled) return true;
    return this.backend.size() + costBytes < this.quotaBytes;
  }

  /** Bytes left under the quota (never negative; Infinity when disabled). */
  remaining(): number {
    if (!this.enabled) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.quotaBytes - this.backend.size());
  }
}

/** The cost of a put of `keyBytes` + `valueBytes`, as etcd's quota counts it. */
export function costPut(keyBytes: number, valueBytes: number): number {
  return KV_OVERHEAD_BYTES + keyBytes + valueBytes;
}
