// Whether a peer is reachable (etcd's peerStatus) and which of its URLs to use (urlPicker).

import type { Clock } from '../clock.js';
import type { Logger } from '../config.js';
import { idString } from './wire.js';

/** What failed, for the inactive log line: "failed to dial 2 on stream Message (...)". */
export interface Failure {
  source: string;
  action: string;
}

/**
 * A peer is active from the first success of any of its channels (a stream up, a POST
 * answered) until the first failure; `since` is when it last became active.
 */
export class PeerStatus {
  private active = false;
  private sinceMs = 0;

  constructor(
    private readonly lg: Logger,
    private readonly clock: Clock,
    readonly id: bigint,
  ) {}

  activate(): void {
    if (this.active) return;
    this.lg.info({ 'peer-id': idString(this.id) }, 'peer became active');
    this.active = true;
    this.sinceMs = this.clock.now();
  }

  deactivate(failure: Failure, reason: string): void {
    const error = `failed to ${failure.action} ${idString(this.id)} on ${failure.source} (${reason})`;
    if (this.active) {
      this.lg.warn(
        { 'peer-id': idString(this.id), error },
        'peer became inactive (message send to peer failed)',
      );
      this.active = false;
      this.sinceMs = 0;
      return;
    }
    this.lg.debug({ 'peer-id': idString(this.id), error }, 'peer deactivated again');
  }

  isActive(): boolean {
    return this.active;
  }

  /** When the peer became active (clock ms), 0 while it is not. */
  activeSince(): number {
    return this.sinceMs;
  }
}

/** The URL every channel to a peer uses; a failure moves all of them to the next one. */
export class UrlPicker {
  private urls: string[];
  private picked = 0;

  constructor(urls: string[]) {
    if (urls.length === 0) throw new RangeError('UrlPicker: a peer needs a URL');
    this.urls = [...urls];
  }

  update(urls: string[]): void {
    if (urls.length === 0) throw new RangeError('UrlPicker: a peer needs a URL');
    this.urls = [...urls];
    this.picked = 0;
  }

  pick(): string {
    return this.urls[this.picked]!;
  }

  /**
   * The URL failed: move on, unless another channel already moved on from it (several
   * channels fail together when a peer goes away; each must not skip a URL).
   */
  unreachable(url: string): void {
    if (url === this.urls[this.picked]) this.picked = (this.picked + 1) % this.urls.length;
  }
}
