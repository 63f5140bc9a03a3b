// The envelope of messages framed out of a reassembled TCP stream. A message
// is reported when its last byte arrives, usually while that very packet is
// being handled, but a hole skipped by timeout or a stream flushed at close
// delivers bytes while another packet (or none) is at hand. So the flow and
// network metadata of both directions are taken once, from the stream's first
// packet, and the time and frame number from the packet being handled (the
// frame that completed the message, as tshark reports it).
import { formatIp } from '../core/ip.ts';
import type { DecodedPacket } from '../core/packet.ts';
import type { FiveTuple, NetworkMeta, OutputPacket, ParseResult } from '../core/output.ts';
import type { StreamDir, StreamSink } from '../reassembly/api.ts';
import { networkMeta } from './envelope.ts';

/** The pipeline side of a stream: where its parser's messages go. */
export interface StreamRecordSink {
  streamRecord(parserIndex: number, env: StreamEnvelope, dir: StreamDir, res: ParseResult): void;
  /** Packet time of the packet being handled. */
  currentTime(): number;
}

export class StreamEnvelope implements StreamSink {
  private readonly flows: [FiveTuple, FiveTuple];
  private readonly net: NetworkMeta;

  constructor(
    private readonly pipeline: StreamRecordSink,
    private readonly parserIndex: number,
    first: DecodedPacket,
  ) {
    const a = formatIp(first.ipVersion, first.srcIp);
    const b = formatIp(first.ipVersion, first.dstIp);
    this.flows = [
      { srcIp: a, dstIp: b, srcPort: first.srcPort, dstPort: first.dstPort, proto: first.protocol },
      { srcIp: b, dstIp: a, srcPort: first.dstPort, dstPort: first.srcPort, proto: first.protocol },
    ];
    this.net = networkMeta(first);
  }

  emit(dir: StreamDir, res: ParseResult): void {
    this.pipeline.streamRecord(this.parserIndex, this, dir, res);
  }

  now(): number {
    return this.pipeline.currentTime();
  }

  /** The OutputPacket of one message; `now` is the packet being handled. */
  outputPacket(now: DecodedPacket, dir: StreamDir, res: ParseResult): OutputPacket {
    return {
      tsSec: now.tsSec,
      tsNsec: now.tsNsec,
      frameNo: now.frameNo,
      protocol: res.payload.type,
      flow: this.flows[dir],
      // A copy per record: a processor may not touch it, but reporters may keep records.
      net: { ...this.net, vlans: [...this.net.vlans] },
      labels: res.labels,
      payload: res.payload,
    };
  }
}
