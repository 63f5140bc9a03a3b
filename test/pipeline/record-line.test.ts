// The public JSON record line (DESIGN section 3) as toRecord writes it: the
// parts kept between records (task and agent, protocol names) must follow
// each record, whatever task, agent or protocol the one before had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutputPacket, Payload } from '../../src/core/output.ts';
import { toJsonLine, toRecord } from '../../src/core/record.ts';

class JsonPayload implements Payload {
  constructor(
    readonly type: string,
    private readonly value: unknown,
  ) {}
  toJSON(): unknown {
    return this.value;
  }
  toBinary(): Uint8Array {
    return new Uint8Array(0);
  }
}

function out(protocol: string, frameNo: number, tunnel: OutputPacket['net']['tunnel'] = null, vlans: number[] = []): OutputPacket {
  return {
    tsSec: 1_767_225_600 + frameNo,
    tsNsec: 5,
    frameNo,
    protocol,
    flow: { srcIp: '10.0.0.1', dstIp: '2001:db8::2', srcPort: 5060, dstPort: 5062, proto: 17 },
    net: { ipVersion: 4, vlans, tunnel, fragmented: false, ttl: 63 },
    labels: { 'sip.method': 'INVITE', note: 'quote " and \\ and é' },
    payload: new JsonPayload(protocol, { n: frameNo, s: 'x"y' }),
  };
}

test('each line carries its own task, agent and protocol, with JSON escapes, whatever came before', () => {
  const cases: [string, string, string][] = [
    ['voip', 'edge-01', 'sip'],
    ['voip', 'edge-01', 'rtp'],
    ['other "task"', 'edge-01', 'sip'],
    ['voip', 'édge\\02', 'we"ird'],
    ['voip', 'edge-01', 'sip'],
  ];
  cases.forEach(([task, agent, protocol], i) => {
    const tunnel = i === 1 ? { type: 'vxlan', outerSrcIp: '192.0.2.1', outerDstIp: '192.0.2.2', vni: 42 } : null;
    const vlans = i === 2 ? [100, 200] : [];
    const rec = toRecord(out(protocol, i + 1, tunnel, vlans), { json: false, binary: false, line: { task, agent } });
    const line = rec.jsonLine!;
    assert.equal(toJsonLine(rec, 'ignored', 'ignored'), line, 'a record keeps the line it was made with');
    assert.deepEqual(JSON.parse(line), {
      ts: `2026-01-01T00:00:0${i + 1}.000000005Z`,
      task,
      agent,
      frame: i + 1,
      protocol,
      flow: { src_ip: '10.0.0.1', dst_ip: '2001:db8::2', src_port: 5060, dst_port: 5062, proto: 17 },
      net: { ip_version: 4, vlans, tunnel: tunnel === null ? null : { type: 'vxlan', outer_src_ip: '192.0.2.1', outer_dst_ip: '192.0.2.2', vni: 42 }, fragmented: false, ttl: 63 },
      labels: { 'sip.method': 'INVITE', note: 'quote " and \\ and é' },
      payload: { n: i + 1, s: 'x"y' },
    });
  });
});
