// The four plugin kinds (ADR-022, DESIGN section 4). Lifecycle:
// factory() -> init(config, ctx) -> wire shared resources -> start -> stop.
import type { DecodedPacket, RawPacket } from '../core/packet.ts';
import type { OutputPacket, ParseResult } from '../core/output.ts';
import type { OutputRecord } from '../core/record.ts';
import type { GlobalConfig } from '../config/global-schema.ts';

/** What every plugin gets at init: who it runs for, and where to log. */
export interface PluginContext {
  taskId: string;
  /** Index of the pipeline worker this instance belongs to (-1 outside pipelines). */
  workerIndex: number;
  agent: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** The global configuration the task runs with (reporters inherit Kafka and backpressure settings from it). */
  global?: GlobalConfig;
}

export type PluginConfig = Record<string, unknown>;

// ---------------------------------------------------------------- capturer

/** Where a capturer delivers packets. */
export interface CaptureSink {
  /**
   * Offers one packet; `pkt` is reused by the capturer and valid only during
   * the call. Returns false when the sink has no room: a file capturer then
   * awaits `ready()` and offers the same packet again (files are never
   * dropped); a live capturer's sink never refuses (it counts a drop instead).
   */
  onPacket(pkt: RawPacket): boolean;
  ready(): Promise<void>;
}

export interface CaptureStats {
  packets: number;
  bytes: number;
  /** Packets the kernel dropped (tp_drops); 0 for files. */
  kernelDrops: number;
  /** Times the kernel ring froze its queue (tp_freeze_q_cnt); 0 for files. */
  kernelFreezes: number;
  /** Packets the kernel saw for the capture, drops included (tp_packets); live capturers only. */
  kernelPackets?: number;
}

export interface Capturer {
  /**
   * Checks a configuration without opening anything (`otus validate`, which
   * may run on another machine than the capture); errors name the field.
   */
  checkConfig(config: PluginConfig): void;
  init(config: PluginConfig, ctx: PluginContext): void | Promise<void>;
  /**
   * Delivers packets until the source ends (files) or stop() is called (live).
   * A damaged file rejects with a CaptureFileError naming the byte offset,
   * after every packet before the damage was delivered.
   */
  run(sink: CaptureSink): Promise<void>;
  stop(): void | Promise<void>;
  stats(): CaptureStats;
  /** Progress of a finite source in [0, 1], or null for live sources. */
  progress(): number | null;
}

// ---------------------------------------------------------------- parser

export interface Parser {
  init(config: PluginConfig, ctx: PluginContext): void | Promise<void>;
  /** Cheap routing test (ports, FlowRegistry lookup). ADR-007. */
  canHandle(pkt: DecodedPacket): boolean;
  /** Full handling: fast or slow path is the parser's own choice. null = nothing to report. */
  handle(pkt: DecodedPacket): ParseResult | null;
  /** Per-reason counters (malformed input etc.). */
  stats(): Record<string, number>;
  /**
   * Packet time has moved on to `nowSec` without a packet (a live link gone
   * quiet, src/pipeline/idle-expiry.ts): run what waits on time.
   */
  expire?(nowSec: number): void;
  stop?(): void;
  /**
   * True for signalling parsers that register flows other packets are looked
   * up by (SIP). In dispatch mode the packets they can handle become ordering
   * barriers: no worker handles a later frame before the registering worker
   * has handled the signalling one, so media never overtakes its call setup.
   */
  readonly registersFlows?: boolean;
}

// ---------------------------------------------------------------- processor

export interface Processor {
  init(config: PluginConfig, ctx: PluginContext): void | Promise<void>;
  /** Reads/writes labels only (ADR-011). Returns false to drop the packet. */
  process(pkt: OutputPacket): boolean;
}

// ---------------------------------------------------------------- reporter

export interface Reporter {
  init(config: PluginConfig, ctx: PluginContext): void | Promise<void>;
  start(): Promise<void>;
  /** Sends a batch; resolves when handed over (or dropped and counted). */
  report(batch: readonly OutputRecord[]): Promise<void>;
  /**
   * Optional, for reporters that write lines (file, console): `count`
   * records already formatted as this reporter's lines (UTF-8, each ending
   * in "\n"). The task uses it only
   * when every one of its reporters writes the same line format
   * (PayloadForms.linesOnly).
   */
  reportLines?(lines: Uint8Array, count: number): Promise<void>;
  /** Flushes what is buffered and releases resources. */
  stop(): Promise<void>;
  stats(): ReporterStats;
}

export interface ReporterStats {
  reported: number;
  timeoutDrops: number;
  errorDrops: number;
  /** Records dropped from the reporter's own buffer (Kafka: drop oldest when full). */
  bufferDrops?: number;
  /** Records the reporter does not carry by design (HEP: types without a HEP mapping); not drops. */
  skipped?: number;
}

export type PluginKind = 'capturer' | 'parser' | 'processor' | 'reporter';

export interface PluginTypes {
  capturer: Capturer;
  parser: Parser;
  processor: Processor;
  reporter: Reporter;
}
