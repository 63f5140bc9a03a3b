// One pipeline: decode -> first parser whose canHandle is true -> handle ->
// processors -> record (DESIGN section 2, ADR-006/007). One instance per
// worker thread; everything here runs per packet, so it allocates nothing
// until a packet is actually reported.
import { DecodedPacket, type RawPacket } from '../core/packet.ts';
import type { Labels, OutputPacket } from '../core/output.ts';
import { toRecord, type OutputRecord, type PayloadForms } from '../core/record.ts';
import { Decoder } from '../decoder/decoder.ts';
import { DecodeResult, type DecoderConfig } from '../decoder/api.ts';
import type { Parser, Processor } from '../plugin/interfaces.ts';
import { makeOutputPacket } from './envelope.ts';
import { RawPayload } from './raw-payload.ts';

/** Per-pipeline counters. received = decodeDropped + fragmentsHeld + unmatchedDropped + parserNoResult + filtered + emitted. */
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

  constructor(o: PipelineOptions) {
    this.decoder = new Decoder(o.decoder);
    this.parsers = o.parsers;
    this.processors = o.processors;
    this.forward = o.unmatchedPolicy === 'forward';
    this.forms = o.forms;
    this.emit = o.emit;
    this.parsed = new Float64Array(o.parsers.length);
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

  /** Lets packet time advance fragment expiry when the capture is idle. */
  expire(nowSec: number): void {
    this.decoder.expire(nowSec);
  }

  counter(name: PipelineCounterName): number {
    return this.counters[C[name]]!;
  }
}
