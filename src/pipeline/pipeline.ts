// One pipeline: decode -> first parser whose canHandle is true -> handle ->
// processors -> record (DESIGN section 2, ADR-006/007). One instance per
// worker thread; everything here runs per packet, so it allocates nothing
// until a packet is actually reported.
import { DecodedPacket, IPPROTO, type RawPacket } from '../core/packet.ts';
import type { Labels, OutputPacket, ParseResult } from '../core/output.ts';
import { toRecord, type OutputRecord, type PayloadForms } from '../core/record.ts';
import { Decoder } from '../decoder/decoder.ts';
import { DecodeResult, type DecoderConfig } from '../decoder/api.ts';
import type { Parser, Processor } from '../plugin/interfaces.ts';
import { makeOutputPacket } from './envelope.ts';
import { isStreamParser, type StreamHandler, type StreamParser, type TcpReassembler } from '../reassembly/api.ts';
import { Reassembler } from '../reassembly/reassembler.ts';
import { StreamEnvelope } from './stream-envelope.ts';
import { RawPayload } from './raw-payload.ts';

/**
 * Per-pipeline counters. Packets and records add up as
 *   received + stream_records = decode_dropped + fragments_held + unmatched_dropped
 *                               + parser_no_result + tcp_streamed + filtered + emitted
 * (without TCP reassembly the two stream terms are 0: every packet makes at most one record).
 */
export const PIPELINE_COUNTERS = [
  'received',
  'bytes',
  'decode_dropped',
  'fragments_held',
  'unmatched_dropped',
  'parser_no_result',
  'filtered',
  'emitted',
  'unmatched_forwarded',
  'tcp_streamed', // TCP packets taken by the reassembler (their messages come out as stream_records)
  'stream_records', // messages framed out of reassembled streams
] as const;
export type PipelineCounterName = (typeof PIPELINE_COUNTERS)[number];
const C = Object.fromEntries(PIPELINE_COUNTERS.map((n, i) => [n, i])) as Record<PipelineCounterName, number>;

export interface PipelineOptions {
  decoder: DecoderConfig;
  parsers: Parser[];
  processors: Processor[];
  unmatchedPolicy: 'forward' | 'drop';
  forms: PayloadForms;
  /** Receives every record that passed the processors. */
  emit: (rec: OutputRecord) => void;
}

export class Pipeline {
  readonly decoder: Decoder;
  readonly counters = new Float64Array(PIPELINE_COUNTERS.length);
  /** Packets handled per parser (same order as options.parsers). */
  readonly parsed: Float64Array;
  private readonly pkt = new DecodedPacket();
  private readonly parsers: Parser[];
  private readonly processors: Processor[];
  private readonly forward: boolean;
  private readonly forms: PayloadForms;
  private readonly emit: (rec: OutputRecord) => void;
  /** TCP reassembly (ADR-005), null when off or no parser frames streams. */
  private readonly reasm: TcpReassembler | null = null;
  private readonly streamParsers: { index: number; parser: StreamParser }[] = [];

  constructor(o: PipelineOptions) {
    this.decoder = new Decoder(o.decoder);
    this.parsers = o.parsers;
    this.processors = o.processors;
    this.forward = o.unmatchedPolicy === 'forward';
    this.forms = o.forms;
    this.emit = o.emit;
    this.parsed = new Float64Array(o.parsers.length);
    const rc = o.decoder.tcpReassembly;
    if (rc !== undefined && rc.enabled) {
      o.parsers.forEach((p, index) => {
        if (isStreamParser(p)) this.streamParsers.push({ index, parser: p });
      });
      if (this.streamParsers.length > 0) {
        const ports = this.streamParsers.flatMap((s) => [...s.parser.streamPorts()]);
        this.reasm = new Reassembler(rc, this, ports);
      }
    }
  }

  /** StreamOpener: the first stream parser that wants a new TCP stream frames it. */
  openStream(pkt: DecodedPacket): StreamHandler | null {
    for (const { index, parser } of this.streamParsers) {
      if (parser.canHandleStream(pkt)) return parser.openStream(pkt, new StreamEnvelope(this, index, pkt));
    }
    return null;
  }

  currentTime(): number {
    return this.pkt.tsSec + this.pkt.tsNsec / 1e9;
  }

  /** A message framed out of a stream: through the processors like a parser result. */
  streamRecord(parserIndex: number, env: StreamEnvelope, dir: 0 | 1, res: ParseResult): void {
    this.counters[C.stream_records]!++;
    this.parsed[parserIndex]!++;
    this.finish(env.outputPacket(this.pkt, dir, res));
  }

  /** Runs one captured frame through the pipeline. `frameNo` is its capture sequence number. */
  handle(raw: RawPacket, frameNo: number): void {
    const c = this.counters;
    c[C.received]!++;
    c[C.bytes]! += raw.origLen;
    const d = this.pkt;
    const r = this.decoder.decode(raw, d);
    if (r !== DecodeResult.OK) {
      if (r === DecodeResult.HELD) c[C.fragments_held]!++;
      else c[C.decode_dropped]!++;
      return;
    }
    d.frameNo = frameNo;
    // TCP packets of reassembled ports go to the reassembler; their messages come back through streamRecord().
    if (this.reasm !== null && d.protocol === IPPROTO.TCP && this.reasm.handlePacket(d)) {
      c[C.tcp_streamed]!++;
      return;
    }
    const parsers = this.parsers;
    for (let i = 0; i < parsers.length; i++) {
      const p = parsers[i]!;
      if (!p.canHandle(d)) continue;
      this.parsed[i]!++;
      const res = p.handle(d);
      if (res === null) {
        c[C.parser_no_result]!++;
        return;
      }
      this.finish(makeOutputPacket(d, res.payload, res.labels));
      return;
    }
    if (!this.forward) {
      c[C.unmatched_dropped]!++;
      return;
    }
    c[C.unmatched_forwarded]!++;
    const labels: Labels = {};
    this.finish(makeOutputPacket(d, new RawPayload(d), labels));
  }

  private finish(out: OutputPacket): void {
    const procs = this.processors;
    for (let i = 0; i < procs.length; i++) {
      if (!procs[i]!.process(out)) {
        this.counters[C.filtered]!++;
        return;
      }
    }
    this.counters[C.emitted]!++;
    this.emit(toRecord(out, this.forms));
  }

  /** Packet time moved on with no packet (a quiet live link): fragments, streams and parsers' timers. */
  expire(nowSec: number): void {
    this.decoder.expire(nowSec);
    this.reasm?.expire(nowSec);
    const parsers = this.parsers;
    for (let i = 0; i < parsers.length; i++) parsers[i]!.expire?.(nowSec);
  }

  /** End of input: flushes the reassembled streams (their last messages are reported). */
  close(): void {
    this.reasm?.close();
  }

  /** TCP reassembly counters, prefixed tcp_ (empty when reassembly is off). */
  reassemblyStats(): Record<string, number> {
    if (this.reasm === null) return {};
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.reasm.stats())) out[`tcp_${k}`] = v;
    return out;
  }

  counter(name: PipelineCounterName): number {
    return this.counters[C[name]]!;
  }
}
