// What one sip parser instance (one pipeline worker) registered in the
// task's FlowRegistry, per call and per SDP origin, so that it can
//  - retire the endpoints a re-offer moved away from (RFC 3264 section 8: a
//    modified offer from the same origin carries a higher o= version), and
//  - shorten a call's endpoints to a grace TTL when its BYE is seen, then
//    release the whole call (unregisterCall) once the grace has passed.
//
// Why a grace period instead of releasing on the BYE: the endpoints send
// their RTCP BYE (and the last RTP packets in flight) around the moment the
// SIP BYE leaves, often just after it; removing the endpoints at the BYE, or
// at its 200 OK a few milliseconds later, would leave that trailing RTCP
// uncorrelated. So at the BYE every endpoint this instance registered for the
// call is re-registered with ttl = min(grace, time left) (it then expires by
// itself, with no further work), and an unregisterCall(callId) is queued for
// packet time BYE + grace: that one also removes the endpoints registered by
// other workers (which saw the INVITE on another 5-tuple). Queued releases
// run when this instance handles a later packet (packet time, as the
// registry's TTLs); without later SIP traffic the entries still expire by
// their own TTL.
//
// Memory is bounded: calls whose endpoints have all expired are swept out
// (a full pass after as many registrations as there were calls left by the
// previous pass, at least 256: O(1) amortised); at most `maxCalls` calls are
// kept (the oldest tracked go first: their BYE still releases them through
// unregisterCall, only the early shortening is lost); at most 8 origins per
// call and MAX_ENDPOINTS_PER_SIDE endpoints per origin.
import { DecodedPacket } from '../../../core/packet.ts';
import type { FlowRegistry, MediaKind } from '../../../flow/api.ts';

export interface MediaEndpoint {
  proto: number;
  ipVersion: number;
  /** 4 or 16 address bytes (a private copy). */
  ip: Uint8Array;
  port: number;
  kind: MediaKind;
  codec: string;
  /** Packet time (s) at which the registration expires. */
  expiry: number;
}

interface Side {
  /** Origin hash (Sdp.originHash), 0 for SDP without o=. */
  origin: number;
  /** o= sess-version of the latest SDP seen from this origin (Sdp.versionHigh/Low; -1 when not a number). */
  vHigh: number;
  vLow: number;
  endpoints: MediaEndpoint[];
}

interface CallMedia {
  /** One per origin (usually two: offerer and answerer). */
  sides: Side[];
  /** Latest expiry of any of the call's endpoints. */
  expiry: number;
}

export const MAX_ENDPOINTS_PER_SIDE = 64;
export const DEFAULT_MAX_TRACKED_CALLS = 50_000;
const MAX_PENDING = 65_536;

function indexOf(list: MediaEndpoint[], ep: MediaEndpoint): number {
  for (let i = 0; i < list.length; i++) if (sameEndpoint(list[i]!, ep)) return i;
  return -1;
}

export function sameEndpoint(a: MediaEndpoint, b: MediaEndpoint): boolean {
  if (a.port !== b.port || a.proto !== b.proto || a.ipVersion !== b.ipVersion) return false;
  const n = a.ipVersion === 6 ? 16 : 4;
  for (let i = 0; i < n; i++) if (a.ip[i] !== b.ip[i]) return false;
  return true;
}

/** (aHigh, aLow) > (bHigh, bLow) for versions split as Sdp.versionHigh/Low; false when either is unknown (-1). */
export function versionGreater(aHigh: number, aLow: number, bHigh: number, bLow: number): boolean {
  if (aHigh < 0 || bHigh < 0) return false;
  return aHigh !== bHigh ? aHigh > bHigh : aLow > bLow;
}

/** Most origins remembered per call (forked early dialogs add some). */
const MAX_SIDES = 8;

export interface TrackerCounters {
  registered: number;
  retired: number;
  released: number;
  evicted: number;
}

export class MediaTracker {
  private readonly calls = new Map<string, CallMedia>();
  private pendIds: string[] = [];
  private pendDue: number[] = [];
  private pendHead = 0;
  private readonly pending = new Set<string>();
  /** Registrations since the last sweep of expired calls, and how many make the next one due. */
  private sinceSweep = 0;
  private sweepEvery = 256;
  /** A packet to ask the registry who owns an endpoint (lookup() takes a packet). */
  private readonly probe = new DecodedPacket();
  readonly counters: TrackerCounters = { registered: 0, retired: 0, released: 0, evicted: 0 };

  constructor(private readonly maxCalls = DEFAULT_MAX_TRACKED_CALLS) {}

  /** Calls with tracked endpoints. */
  get trackedCalls(): number {
    return this.calls.size;
  }

  /** Releases waiting for their grace period. */
  get pendingReleases(): number {
    return this.pendIds.length - this.pendHead;
  }

  /**
   * Registers the endpoints of one SDP (offer or answer) of a call, from the
   * origin `origin` (a hash, 0 = unknown) at o= version (vHigh, vLow). When
   * the origin is known and its version went up, its previous endpoints that
   * are not in this SDP are retired: shortened to `grace` seconds (removed
   * when grace is 0).
   */
  registerSdp(reg: FlowRegistry, callId: string, origin: number, vHigh: number, vLow: number, eps: MediaEndpoint[], ttl: number, now: number, grace: number): void {
    for (const ep of eps) {
      reg.register(ep.proto, ep.ipVersion, ep.ip, ep.port, { callId, codec: ep.codec, kind: ep.kind }, ttl, now);
      ep.expiry = now + ttl;
    }
    this.counters.registered += eps.length;
    if (++this.sinceSweep >= this.sweepEvery) this.sweep(now);
    let call = this.calls.get(callId);
    if (call === undefined) {
      if (eps.length === 0) return; // nothing to retire or release later
      if (this.calls.size >= this.maxCalls) this.makeRoom(now);
      call = { sides: [], expiry: now + ttl };
      this.calls.set(callId, call);
    } else if (eps.length > 0 && now + ttl > call.expiry) {
      call.expiry = now + ttl;
    }
    let side: Side | null = null;
    for (let i = 0; i < call.sides.length; i++) if (call.sides[i]!.origin === origin) side = call.sides[i]!;
    if (side === null) {
      if (call.sides.length < MAX_SIDES) call.sides.push({ origin, vHigh, vLow, endpoints: eps.length > MAX_ENDPOINTS_PER_SIDE ? eps.slice(0, MAX_ENDPOINTS_PER_SIDE) : eps });
    } else if (origin !== 0 && versionGreater(vHigh, vLow, side.vHigh, side.vLow)) {
      for (const old of side.endpoints) {
        if (indexOf(eps, old) < 0 && this.shorten(reg, callId, old, now, grace)) this.counters.retired++;
      }
      side.vHigh = vHigh;
      side.vLow = vLow;
      side.endpoints = eps.length > MAX_ENDPOINTS_PER_SIDE ? eps.slice(0, MAX_ENDPOINTS_PER_SIDE) : eps;
    } else {
      // The same SDP again (a retransmission, the other leg through a proxy),
      // or an older one: keep the union.
      const list = side.endpoints;
      for (let k = 0; k < eps.length; k++) {
        const ep = eps[k]!;
        const i = indexOf(list, ep);
        if (i >= 0) list[i] = ep;
        else if (list.length < MAX_ENDPOINTS_PER_SIDE) list.push(ep);
      }
    }
  }

  /**
   * The call ended (BYE): its endpoints get at most `grace` seconds more, and
   * the whole call is released from the registry when they have passed.
   */
  release(reg: FlowRegistry, callId: string, now: number, grace: number): void {
    const call = this.calls.get(callId);
    this.calls.delete(callId);
    if (!(grace > 0)) {
      this.counters.released += reg.unregisterCall(callId);
      return;
    }
    if (call !== undefined) {
      for (const side of call.sides) for (const ep of side.endpoints) this.shorten(reg, callId, ep, now, grace);
    }
    if (this.pending.has(callId)) return;
    if (this.pendingReleases >= MAX_PENDING) this.runOne(reg);
    this.pending.add(callId);
    this.pendIds.push(callId);
    this.pendDue.push(now + grace);
  }

  /** Runs the releases whose grace period ended by packet time `now`. */
  tick(reg: FlowRegistry, now: number): void {
    while (this.pendHead < this.pendIds.length && this.pendDue[this.pendHead]! <= now) this.runOne(reg);
  }

  /** Runs every queued release now (when the parser stops). */
  flush(reg: FlowRegistry): void {
    while (this.pendHead < this.pendIds.length) this.runOne(reg);
  }

  private runOne(reg: FlowRegistry): void {
    const id = this.pendIds[this.pendHead]!;
    this.pendHead++;
    this.pending.delete(id);
    this.calls.delete(id);
    this.counters.released += reg.unregisterCall(id);
    if (this.pendHead === this.pendIds.length) {
      this.pendIds = [];
      this.pendDue = [];
      this.pendHead = 0;
    } else if (this.pendHead >= 1024 && this.pendHead * 2 >= this.pendIds.length) {
      this.pendIds = this.pendIds.slice(this.pendHead);
      this.pendDue = this.pendDue.slice(this.pendHead);
      this.pendHead = 0;
    }
  }

  /**
   * Shortens one endpoint's registration to at most `grace` seconds from now,
   * if it is still live and still this call's (another call may have been
   * given the address since). Returns true when it did.
   */
  private shorten(reg: FlowRegistry, callId: string, ep: MediaEndpoint, now: number, grace: number): boolean {
    const left = ep.expiry - now;
    if (!(left > 0) || !this.owned(reg, callId, ep, now)) return false;
    if (grace > 0) {
      const ttl = Math.min(grace, left);
      reg.register(ep.proto, ep.ipVersion, ep.ip, ep.port, { callId, codec: ep.codec, kind: ep.kind }, ttl, now);
      ep.expiry = now + ttl;
    } else {
      reg.unregister(ep.proto, ep.ipVersion, ep.ip, ep.port);
      ep.expiry = now;
    }
    return true;
  }

  private owned(reg: FlowRegistry, callId: string, ep: MediaEndpoint, now: number): boolean {
    const p = this.probe;
    p.protocol = ep.proto;
    p.ipVersion = ep.ipVersion;
    p.dstIp.fill(0);
    p.dstIp.set(ep.ip.subarray(0, ep.ipVersion === 6 ? 16 : 4));
    p.dstPort = ep.port;
    p.srcIp.fill(0);
    p.srcPort = 0;
    p.frameNo = 0; // no memo
    p.tsSec = Math.floor(now);
    p.tsNsec = Math.round((now - p.tsSec) * 1e9);
    const ctx = reg.lookup(p);
    // A registry may keep a prefix of a long call-id.
    return ctx !== null && ctx.kind === ep.kind && ctx.callId.length > 0 && callId.startsWith(ctx.callId);
  }

  /** Drops the calls whose endpoints have all expired. */
  private sweep(now: number): void {
    this.sinceSweep = 0;
    for (const [id, call] of this.calls) if (!(call.expiry > now)) this.calls.delete(id);
    // A pass over n calls once per max(256, n) registrations: O(1) amortised.
    this.sweepEvery = Math.max(256, this.calls.size);
  }

  /** At maxCalls: sweep, then forget the oldest tracked calls down to 7/8 of maxCalls. */
  private makeRoom(now: number): void {
    this.sweep(now);
    if (this.calls.size < this.maxCalls) return;
    const target = Math.floor((this.maxCalls * 7) / 8);
    for (const id of this.calls.keys()) {
      if (this.calls.size <= target) break;
      this.calls.delete(id);
      this.counters.evicted++;
    }
  }
}
