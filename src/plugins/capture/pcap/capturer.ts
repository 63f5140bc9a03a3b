// Capturer "pcap": replays a capture file (pcap or pcapng, optionally
// compressed) into the pipeline. Files are lossless: when the sink has no
// room the capturer waits and offers the same packet again, so a slow
// pipeline makes the replay slower, never incomplete.
import { OtusError } from '../../../core/errors.ts';
import type { Capturer, CaptureSink, CaptureStats, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { CaptureFileReader, checkCaptureFile, type ReaderOptions } from './capture-reader.ts';
import { parsePcapConfig } from './config.ts';

export class PcapCapturer implements Capturer {
  private file: string | null = null;
  private reader: CaptureFileReader | null = null;
  private running = false;
  private stopping = false;
  /** Resolves when stop() is called, to end a wait on a sink that may never become ready. */
  private stopSignal: Promise<void> | null = null;
  private wakeStop: (() => void) | null = null;
  private packets = 0;
  private bytes = 0;
  private done = false;
  private lastProgress = 0;

  /** `opts` are for tests and benchmarks (buffer size); tasks configure only the file. */
  constructor(private readonly opts: ReaderOptions = {}) {}

  checkConfig(config: PluginConfig): void {
    parsePcapConfig(config);
  }

  /** Validates the config and that the file exists, so that a wrong path fails the task at start. */
  async init(config: PluginConfig, _ctx: PluginContext): Promise<void> {
    const cfg = parsePcapConfig(config);
    await checkCaptureFile(cfg.file);
    this.file = cfg.file;
  }

  async run(sink: CaptureSink): Promise<void> {
    if (this.running) throw new OtusError('pcap: run() is already in progress');
    if (this.file === null) throw new OtusError('pcap: run() needs init() first');
    this.running = true;
    try {
      if (this.stopping) return;
      this.reader = await CaptureFileReader.open(this.file, this.opts);
      await this.loop(sink, this.reader);
      if (!this.stopping) this.done = true;
    } finally {
      this.running = false;
      const r = this.reader;
      if (r) {
        this.lastProgress = r.progress;
        this.reader = null;
        await r.close();
      }
    }
  }

  private async loop(sink: CaptureSink, reader: CaptureFileReader): Promise<void> {
    const pkt = reader.packet;
    for (;;) {
      while (reader.next()) {
        while (!sink.onPacket(pkt)) {
          // Never drop from a file: wait for room, then offer the same packet again.
          await Promise.race([sink.ready(), this.stopped()]);
          if (this.stopping) return;
        }
        this.packets++;
        this.bytes += pkt.origLen;
        if (this.stopping) return;
      }
      if (this.stopping) return;
      if (!(await reader.more())) return;
      // stop() may have come during the read: do not deliver another packet.
      if (this.stopping) return;
    }
  }

  private stopped(): Promise<void> {
    this.stopSignal ??= new Promise<void>((resolve) => {
      this.wakeStop = resolve;
    });
    return this.stopSignal;
  }

  stop(): void {
    this.stopping = true;
    this.wakeStop?.();
  }

  stats(): CaptureStats {
    return { packets: this.packets, bytes: this.bytes, kernelDrops: 0, kernelFreezes: 0 };
  }

  progress(): number {
    if (this.done) return 1;
    return this.reader ? this.reader.progress : this.lastProgress;
  }
}

registerPlugin('capturer', 'pcap', () => new PcapCapturer());
