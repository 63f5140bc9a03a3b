// Worker side of shared-flow-registry-threads.test.ts: each worker attaches
// the registry and plays one role. Steps are sequenced with Atomics on a
// control buffer, never with sleeps. Does nothing when run as a main script.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { DecodedPacket } from '../../src/core/packet.ts';
import type { FlowContext } from '../../src/flow/api.ts';
import { SharedFlowRegistry } from '../../src/flow/shared-flow-registry.ts';
import { v4, v6 } from './flow-helpers.ts';

export type Role = 'visibility-writer' | 'visibility-reader' | 'stress-writer' | 'stress-reader';

export interface WorkerInput {
  role: Role;
  sab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  rounds: number;
  seed: number;
}

/** Control words. */
export const CTL_START = 0;
export const CTL_PUBLISHED = 1;
export const CTL_ACKED = 2;
export const CTL_WRITERS_DONE = 3;

export const STABLE_KEYS = 32;
export const CHURN_KEYS = 100;
const UDP = 17;

// Endpoints: stable ones (registered by the test before the workers start,
// never written again) and churn ones (written by the stress writers).
export function stableIp(i: number): Uint8Array {
  return v4(10, 9, 0, i);
}
export function stablePort(i: number): number {
  return 5000 + 2 * i;
}
export function stableCtx(i: number): FlowContext {
  return { callId: `stable-${i}`, codec: `codec-${i}`, kind: i & 1 ? 'rtcp' : 'rtp' };
}
export function churnVersion(j: number): 4 | 6 {
  return j & 1 ? 6 : 4;
}
export function churnIp(j: number): Uint8Array {
  return j & 1 ? v6(0x800 + j) : v4(10, 8, j >> 8, j & 0xff);
}
export function churnPort(j: number): number {
  return 20000 + 2 * j;
}
/** A context whose every field is derived from (j, n), so a torn one shows. */
export function churnCtx(j: number, n: number): FlowContext {
  return { callId: `j${j}-n${n}-` + 'x'.repeat(n % 90), codec: `j${j}-n${n}`, kind: n & 1 ? 'rtcp' : 'rtp' };
}

const CHURN_RE = /^j(\d+)-n(\d+)-(x*)$/;

/** Why `ctx` cannot be an entry registered for churn key j, or null when it can. */
export function churnViolation(j: number, ctx: FlowContext): string | null {
  const m = CHURN_RE.exec(ctx.callId);
  if (m === null) return `key ${j}: call-id ${JSON.stringify(ctx.callId)}`;
  const n = Number(m[2]);
  if (Number(m[1]) !== j) return `key ${j}: call-id of key ${m[1]}`;
  if (m[3]!.length !== n % 90) return `key ${j}: call-id padding ${m[3]!.length} for n=${n}`;
  if (ctx.codec !== `j${j}-n${n}`) return `key ${j}: codec ${ctx.codec} with call-id ${ctx.callId}`;
  if (ctx.kind !== (n & 1 ? 'rtcp' : 'rtp')) return `key ${j}: kind ${ctx.kind} for n=${n}`;
  return null;
}

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

function waitFor(ctl: Int32Array, index: number, atLeast: number): void {
  for (;;) {
    const v = Atomics.load(ctl, index);
    if (v >= atLeast) return;
    Atomics.wait(ctl, index, v);
  }
}

function visibilityWriter(reg: SharedFlowRegistry, ctl: Int32Array, rounds: number): unknown {
  for (let i = 1; i <= rounds; i++) {
    if (i > 1) reg.unregister(UDP, 4, v4(10, 7, 0, 1), 30000 + 2 * (i - 1));
    reg.register(UDP, 4, v4(10, 7, 0, 1), 30000 + 2 * i, { callId: `round-${i}`, codec: 'PCMU', kind: 'rtp' }, 60, 1000);
    Atomics.store(ctl, CTL_PUBLISHED, i);
    Atomics.notify(ctl, CTL_PUBLISHED);
    waitFor(ctl, CTL_ACKED, i);
  }
  return { rounds };
}

function visibilityReader(reg: SharedFlowRegistry, ctl: Int32Array, rounds: number): unknown {
  const failures: string[] = [];
  const pkt = new DecodedPacket();
  pkt.ipVersion = 4;
  pkt.protocol = UDP;
  pkt.srcIp.set(v4(10, 7, 0, 2));
  pkt.dstIp.set(v4(10, 7, 0, 1));
  pkt.srcPort = 40000;
  pkt.tsSec = 1000;
  for (let i = 1; i <= rounds; i++) {
    waitFor(ctl, CTL_PUBLISHED, i);
    pkt.dstPort = 30000 + 2 * i;
    pkt.frameNo = 2 * i;
    const got = reg.lookup(pkt);
    if (got?.callId !== `round-${i}`) failures.push(`round ${i}: got ${JSON.stringify(got)}`);
    pkt.dstPort = 30000 + 2 * (i - 1);
    pkt.frameNo = 2 * i + 1;
    if (i > 1 && reg.lookup(pkt) !== null) failures.push(`round ${i}: endpoint of round ${i - 1} still registered`);
    Atomics.store(ctl, CTL_ACKED, i);
    Atomics.notify(ctl, CTL_ACKED);
  }
  return { failures };
}

function stressWriter(reg: SharedFlowRegistry, ctl: Int32Array, ops: number, seed: number): unknown {
  const r = rng(seed);
  let regs = 0;
  let unregs = 0;
  let calls = 0;
  for (let step = 0; step < ops; step++) {
    const j = r(CHURN_KEYS);
    const op = r(100);
    const now = Math.floor(step / 200);
    if (op < 70) {
      reg.register(UDP, churnVersion(j), churnIp(j), churnPort(j), churnCtx(j, r(1000)), 2 + r(8), now);
      regs++;
    } else if (op < 99) {
      reg.unregister(UDP, churnVersion(j), churnIp(j), churnPort(j));
      unregs++;
    } else {
      const n = r(1000);
      reg.unregisterCall(churnCtx(j, n).callId);
      calls++;
    }
  }
  Atomics.add(ctl, CTL_WRITERS_DONE, 1);
  Atomics.notify(ctl, CTL_WRITERS_DONE);
  return { regs, unregs, calls };
}

function stressReader(reg: SharedFlowRegistry, ctl: Int32Array, writers: number, seed: number): unknown {
  const r = rng(seed);
  const pkt = new DecodedPacket();
  pkt.protocol = UDP;
  pkt.tsSec = 0; // before every expiry: whatever is in the table is live
  const violations: string[] = [];
  let ops = 0;
  let hits = 0;
  let stableHits = 0;
  let frame = 1;
  // Keep reading until both writers are done, and for a minimum besides.
  while (Atomics.load(ctl, CTL_WRITERS_DONE) < writers || ops < 20000) {
    ops++;
    const stable = r(8) === 0;
    const asSource = r(2) === 0;
    let ip: Uint8Array;
    let port: number;
    let j: number;
    if (stable) {
      j = r(STABLE_KEYS);
      ip = stableIp(j);
      port = stablePort(j);
      pkt.ipVersion = 4;
    } else {
      j = r(CHURN_KEYS);
      ip = churnIp(j);
      port = churnPort(j);
      pkt.ipVersion = churnVersion(j);
    }
    const other = pkt.ipVersion === 6 ? v6(1) : v4(192, 0, 2, 1);
    (asSource ? pkt.srcIp : pkt.dstIp).set(ip);
    (asSource ? pkt.dstIp : pkt.srcIp).set(other);
    if (asSource) {
      pkt.srcPort = port;
      pkt.dstPort = 1;
    } else {
      pkt.dstPort = port;
      pkt.srcPort = 1;
    }
    pkt.frameNo = frame++;
    const got = reg.lookup(pkt);
    if (stable) {
      const want = stableCtx(j);
      if (got === null || got.callId !== want.callId || got.codec !== want.codec || got.kind !== want.kind) {
        if (violations.length < 10) violations.push(`stable ${j}: ${JSON.stringify(got)}`);
      } else stableHits++;
    } else if (got !== null) {
      hits++;
      const v = churnViolation(j, got);
      if (v !== null && violations.length < 10) violations.push(v);
    }
  }
  return { ops, hits, stableHits, violations, stats: reg.stats() };
}

if (!isMainThread && parentPort !== null) {
  const input = workerData as WorkerInput;
  const reg = SharedFlowRegistry.attach(input.sab);
  const ctl = new Int32Array(input.ctl);
  parentPort.postMessage({ type: 'ready' });
  waitFor(ctl, CTL_START, 1);
  let result: unknown;
  switch (input.role) {
    case 'visibility-writer':
      result = visibilityWriter(reg, ctl, input.rounds);
      break;
    case 'visibility-reader':
      result = visibilityReader(reg, ctl, input.rounds);
      break;
    case 'stress-writer':
      result = stressWriter(reg, ctl, input.rounds, input.seed);
      break;
    case 'stress-reader':
      result = stressReader(reg, ctl, 2, input.seed);
      break;
  }
  parentPort.postMessage({ type: 'result', result });
}
