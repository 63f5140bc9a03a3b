// Benchmark: the rtp parser's fast path on one core. One DecodedPacket of a
// flow registered in a SharedFlowRegistry (as SIP would have), run through
// canHandle + handle in a loop, as the pipeline does for every media packet.
// The frame number advances each packet, so the registry's per-frame memo
// only saves the second probe (handle's), as in the pipeline. The result's
// labels and payload are built but not serialised (serialisation belongs to
// the pipeline's own benchmark).
import { DecodedPacket, IPPROTO } from '../src/core/packet.ts';
import { SharedFlowRegistry } from '../src/flow/shared-flow-registry.ts';
import { RtpParser } from '../src/plugins/parser/rtp/index.ts';

function rtpFlowPacket(): DecodedPacket {
  const d = new DecodedPacket();
  d.ipVersion = 4;
  d.protocol = IPPROTO.UDP;
  d.srcIp.set([10, 0, 0, 1]);
  d.dstIp.set([10, 0, 0, 2]);
  d.srcPort = 40000;
  d.dstPort = 20000;
  d.tsSec = 1_700_000_000;
  const frame = new Uint8Array(42 + 12 + 160); // Ethernet + IPv4 + UDP, RTP header, 20 ms of G.711
  frame.set([0x80, 0x00, 0x12, 0x34, 0, 0, 0x0f, 0xa0, 0xde, 0xad, 0xbe, 0xef], 42);
  d.data = frame;
  d.payloadOffset = 42;
  d.payloadLength = 12 + 160;
  d.capLen = d.origLen = frame.length;
  return d;
}

export async function benchRtpFastPath(seconds: number): Promise<{ pps: number }> {
  const reg = SharedFlowRegistry.create(4096);
  // Some other calls in the table, so the probe is not into an empty one.
  for (let i = 0; i < 1000; i++) {
    reg.register(IPPROTO.UDP, 4, Uint8Array.of(10, 1, i >> 8, i & 0xff), 30000 + 2 * i, { callId: `other-${i}`, codec: 'PCMA', kind: 'rtp' }, 3600, 1_700_000_000);
  }
  reg.register(IPPROTO.UDP, 4, Uint8Array.of(10, 0, 0, 2), 20000, { callId: 'a84b4c76e66710@pc33.atlanta.example.com', codec: 'PCMU', kind: 'rtp' }, 3600, 1_700_000_000);
  const parser = new RtpParser();
  parser.init({}, { taskId: 'bench', workerIndex: 0, agent: 'bench', log: () => {} });
  parser.setFlowRegistry(reg);
  const pkt = rtpFlowPacket();
  const d = pkt.data;

  const run = (ns: bigint): { n: number; elapsed: bigint } => {
    const start = process.hrtime.bigint();
    const until = start + ns;
    let n = 0;
    let sink = 0;
    let now = start;
    while (now < until) {
      for (let i = 0; i < 4096; i++) {
        pkt.frameNo++;
        // A different sequence number per packet, as on the wire.
        const seq = pkt.frameNo & 0xffff;
        d[44] = seq >> 8;
        d[45] = seq & 0xff;
        if (parser.canHandle(pkt)) {
          const r = parser.handle(pkt);
          if (r !== null) sink += r.labels['rtp.seq']!.length;
        }
      }
      n += 4096;
      now = process.hrtime.bigint();
    }
    if (sink === 0) throw new Error('benchmark: nothing was handled');
    return { n, elapsed: now - start };
  };

  run(BigInt(Math.round(Math.min(1, seconds / 4) * 1e9))); // warm-up: let the JIT optimise the loop
  const { n, elapsed } = run(BigInt(Math.round(seconds * 1e9)));
  if (parser.stats().registered === 0) throw new Error('benchmark: the flow was not registered');
  return { pps: Math.round(n / (Number(elapsed) / 1e9)) };
}

// `node dist/bench/rtp-fast-path.js [seconds]` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 3);
  const { pps } = await benchRtpFastPath(seconds);
  console.log(`rtp fast path (canHandle + handle, registered flow): ${(pps / 1e6).toFixed(2)} Mpps on one core`);
}
