// Packet time for a live capture that has gone quiet. Fragment timeouts, TCP
// stream and gap timeouts (ADR-005) and parsers' timers (the SIP parser's
// release of a call's media after BYE) run on packet time, which only
// advances when packets arrive; on a live link that falls silent, a stream
// waiting on a lost segment would otherwise hold its last message until the
// next packet, or until the task stops. So while no packet has come for a
// second of wall time, the pipeline is told the time has moved on by as much
// wall time as has passed since the last packet: on a live capture, packet
// time is wall time. File captures never call this (their packet time is the
// file's, and their end flushes everything).
import type { Pipeline } from './pipeline.ts';

/** How long the capture must be quiet before the clock is advanced, and how often after that. */
export const IDLE_TICK_MS = 1000;

export class IdleExpiry {
  private lastPackets = -1;
  private lastDataWall: number;
  private lastTickWall = 0;

  constructor(
    private readonly pipeline: Pick<Pipeline, 'expire' | 'currentTime'>,
    nowMs: number,
    private readonly everyMs = IDLE_TICK_MS,
  ) {
    this.lastDataWall = nowMs;
  }

  /**
   * Called from the worker's loop with the packets handled so far; cheap
   * enough for every turn. Returns true when it advanced the pipeline's
   * clock (expiry may have emitted records: flush them).
   */
  tick(packets: number, nowMs: number): boolean {
    if (packets !== this.lastPackets) {
      this.lastPackets = packets;
      this.lastDataWall = nowMs;
      return false;
    }
    const quiet = nowMs - this.lastDataWall;
    if (quiet < this.everyMs || nowMs - this.lastTickWall < this.everyMs) return false;
    const last = this.pipeline.currentTime();
    if (last === 0) return false; // nothing seen yet: nothing held
    this.lastTickWall = nowMs;
    this.pipeline.expire(last + quiet / 1000);
    return true;
  }
}
