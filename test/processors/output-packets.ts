// Hand-made OutputPackets for the processor tests (and records for the HEP reporter test). The payload throws when
// looked into: processors must decide on labels and the envelope alone (ADR-011).
import type { Labels, OutputPacket, Payload } from '../../src/core/output.ts';
import type { PluginContext } from '../../src/plugin/interfaces.ts';

export class SealedPayload implements Payload {
  constructor(readonly type: string) {}
  toJSON(): unknown {
    throw new Error('a processor looked into the payload');
  }
  toBinary(): Uint8Array {
    throw new Error('a processor looked into the payload');
  }
}

export function packet(protocol: string, labels: Labels): OutputPacket {
  return {
    tsSec: 1_700_000_000,
    tsNsec: 0,
    frameNo: 1,
    protocol,
    flow: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060, proto: 17 },
    net: { ipVersion: 4, vlans: [], tunnel: null, fragmented: false, ttl: 64 },
    labels,
    payload: new SealedPayload(protocol),
  };
}

export const ctx: PluginContext = { taskId: 'voip-1', workerIndex: 0, agent: 'edge-01', log: () => {} };
