// Ring-buffer events as records for the task's reporters (DESIGN section 8):
// protocol "policy", the packet's 5-tuple as the flow, and what happened in
// labels, so the filter and label processors and every reporter handle them
// like any other record.
import type { OutputRecord } from '../core/record.ts';
import { ACTION_NAME, formatIpv4 } from './rules.ts';
import { EV_DENY, EV_LOG, EV_NEW_SESSION, NO_RULE, type DecodedEvent } from './layout.ts';

const EVENT_NAME: Record<number, string> = { [EV_NEW_SESSION]: 'new_session', [EV_DENY]: 'deny', [EV_LOG]: 'log' };

/** The monotonic clock of bpf_ktime_get_ns is Node's hrtime clock: one offset turns it into wall time. */
export function wallClockOf(monoNs: bigint): { sec: number; nsec: number } {
  const wallNs = BigInt(Date.now()) * 1_000_000n + (monoNs - process.hrtime.bigint());
  return { sec: Number(wallNs / 1_000_000_000n), nsec: Number(wallNs % 1_000_000_000n) };
}

export interface EventContext {
  /** The rule id of index `rule` under generation `gen`, or null when unknown. */
  ruleId(gen: number, rule: number): string | null;
  /** The interface name of an ifindex we attached to. */
  ifname(ifindex: number): string;
}

export function eventToRecord(e: DecodedEvent, ctx: EventContext, frameNo: number): OutputRecord {
  const ts = wallClockOf(e.tsNs);
  const rule = e.rule === NO_RULE ? 'default' : (ctx.ruleId(e.gen, e.rule) ?? `#${e.rule}`);
  const labels: Record<string, string> = {
    'policy.event': EVENT_NAME[e.type] ?? String(e.type),
    'policy.action': ACTION_NAME[e.action] ?? String(e.action),
    'policy.rule': rule,
    'policy.direction': e.dir === 0 ? 'ingress' : 'egress',
    'policy.interface': ctx.ifname(e.ifindex),
    'policy.generation': String(e.gen),
  };
  const flow = { srcIp: formatIpv4(e.srcIp), dstIp: formatIpv4(e.dstIp), srcPort: e.srcPort, dstPort: e.dstPort, proto: e.proto };
  const payload = {
    event: labels['policy.event'],
    action: labels['policy.action'],
    rule,
    direction: labels['policy.direction'],
    interface: labels['policy.interface'],
    session_packets: e.packets,
    session_bytes: e.bytes,
    packet_length: e.pktLen,
  };
  return {
    tsSec: ts.sec,
    tsNsec: ts.nsec,
    frameNo,
    protocol: 'policy',
    flow,
    net: { ipVersion: 4, vlans: [], tunnel: null, fragmented: false, ttl: 0 },
    labels,
    payloadJson: JSON.stringify(payload),
  };
}
