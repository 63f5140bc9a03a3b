// The daemon's structured log (ADR-018, ADR-025): pino records, JSON or text,
// written to every configured output: stdout, a rotated file, Loki. The
// outputs sit behind one fan-out destination so that a reload can swap them,
// and the level can change, without touching the logger callers hold.
import { pino, type Logger } from 'pino';
import type { GlobalConfig } from '../config/global-schema.ts';
import type { Log } from './log-fn.ts';
import { LokiPusher } from './loki.ts';
import { RotatingLogFile } from './rotating-file.ts';
import { jsonLineToText } from './text-format.ts';

export type LogConfig = GlobalConfig['otus']['log'];

export interface LoggingOptions {
  hostname: string;
  /** In a container the log goes to stdout whatever the config says: that is where the runtime collects it. */
  inContainer: boolean;
  /** Problems of the outputs themselves; they cannot be logged through the outputs. */
  notice?: (message: string) => void;
}

interface Sink {
  write(line: string): void;
  close(): Promise<void>;
}

const MB = 1024 * 1024;

let stdoutGuarded = false;
/** stdout may be a pipe whose reader went away: losing log lines beats dying of EPIPE. */
function ignoreStdoutErrors(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', () => {});
}

export class Logging {
  readonly logger: Logger;
  private sinks: Sink[] = [];
  private loki: LokiPusher | null = null;
  /** Pushers replaced by a reload: their drops still count. */
  private readonly retiredLoki: LokiPusher[] = [];
  private outputsKey = '';
  private readonly notice: (m: string) => void;

  constructor(
    cfg: LogConfig,
    private readonly o: LoggingOptions,
  ) {
    this.notice = o.notice ?? ((m) => process.stderr.write(`otus: ${m}\n`));
    ignoreStdoutErrors();
    this.buildSinks(cfg);
    const destination = {
      write: (line: string) => {
        for (const s of this.sinks) {
          try {
            s.write(line);
          } catch (e) {
            this.notice(`log output failed: ${(e as Error).message}`);
          }
        }
      },
    };
    this.logger = pino(
      {
        level: cfg.level,
        base: { pid: process.pid, hostname: o.hostname },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination,
    );
  }

  /** The function shape the rest of the daemon and the plugins log through. */
  readonly log: Log = (level, msg, fields) => {
    if (fields) this.logger[level](fields, msg);
    else this.logger[level](msg);
  };

  get level(): string {
    return this.logger.level;
  }

  /** Applies a reloaded log section: the level at once, outputs rebuilt only if they changed. */
  async reconfigure(cfg: LogConfig): Promise<void> {
    this.logger.level = cfg.level;
    if (this.keyOf(cfg) === this.outputsKey) return;
    const old = this.sinks;
    this.buildSinks(cfg);
    await Promise.all(old.map((s) => s.close()));
  }

  /** Log lines Loki outputs dropped, across reconfigurations. */
  lokiDropped(): number {
    return [...this.retiredLoki, ...(this.loki ? [this.loki] : [])].reduce((n, p) => n + p.stats().dropped, 0);
  }

  async close(): Promise<void> {
    const sinks = this.sinks;
    this.sinks = [];
    await Promise.all(sinks.map((s) => s.close()));
  }

  private keyOf(cfg: LogConfig): string {
    return JSON.stringify([cfg.format, cfg.outputs]);
  }

  private buildSinks(cfg: LogConfig): void {
    const text = cfg.format === 'text';
    const fmt = (line: string) => (text ? jsonLineToText(line) : line);
    const sinks: Sink[] = [];
    const out = cfg.outputs;
    if (out.stdout.enabled || this.o.inContainer) {
      sinks.push({ write: (l) => void process.stdout.write(fmt(l)), close: async () => {} });
    }
    if (out.file.enabled) {
      const r = out.file.rotation;
      try {
        const file = new RotatingLogFile({
          path: out.file.path,
          maxSizeBytes: r.max_size_mb * MB,
          maxBackups: r.max_backups,
          maxAgeDays: r.max_age_days,
          compress: r.compress,
          onError: (e) => this.notice(`log file ${out.file.path}: ${e.message}`),
        });
        sinks.push({ write: (l) => file.write(fmt(l)), close: () => file.close() });
      } catch (e) {
        // A log directory that cannot be made must not keep the daemon from running: the other outputs still work.
        this.notice(`log file ${out.file.path}: ${(e as Error).message}; file output off`);
      }
    }
    if (this.loki) this.retiredLoki.push(this.loki);
    this.loki = null;
    if (out.loki.enabled) {
      if (!out.loki.endpoint) {
        this.notice('log.outputs.loki is enabled without an endpoint: Loki output off');
      } else {
        const loki = new LokiPusher({
          endpoint: out.loki.endpoint,
          labels: { job: 'otus', host: this.o.hostname, ...out.loki.labels },
          batchSize: out.loki.batch_size,
          batchTimeoutMs: out.loki.batch_timeout * 1000,
          onError: (m) => this.notice(m),
        });
        this.loki = loki;
        sinks.push({ write: (l) => loki.push(l), close: () => loki.close() });
      }
    }
    this.sinks = sinks;
    this.outputsKey = this.keyOf(cfg);
  }
}
