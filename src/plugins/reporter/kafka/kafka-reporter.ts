// Reporter "kafka" (DESIGN sections 3 and 6, ADR-001/019/024/027/028).
//
// Records are turned into messages as they arrive and held in a bounded
// buffer (full = drop the oldest, counted). A batch leaves when it reaches
// batch_size or batch_timeout has passed, with up to max_in_flight produce
// requests at once. Each batch gets send_timeout in total: failed attempts
// are retried at most max_retries times inside that window, and a batch
// still unacknowledged when it closes is dropped and counted. report()
// waits only while every in-flight slot is taken, so a dead broker costs the
// sender at most one send_timeout per batch and never blocks it for longer.
import type { Admin, Producer, TopicMessages } from 'kafkajs';
import { kafkaClient, TimeoutError, withTimeout } from '../../../kafka/client.ts';
import { compressionTypes } from '../../../kafka/codecs.ts';
import type { OutputRecord } from '../../../core/record.ts';
import type { PluginConfig, PluginContext, Reporter, ReporterStats } from '../../../plugin/interfaces.ts';
import { kafkaReporterSettings, type KafkaReporterSettings } from './config.ts';
import { toKafkaMessage, topicFor, type KafkaMessage } from './message.ts';

interface Pending {
  topic: string;
  msg: KafkaMessage;
  /** Approximate encoded size, to keep a request under max_message_bytes. */
  bytes: number;
}

function sizeOf(m: KafkaMessage): number {
  let n = m.value.length + m.key.length + 32;
  for (const k in m.headers) n += k.length + m.headers[k]!.length + 4;
  return n;
}

export interface KafkaReporterStats extends ReporterStats {
  /** Records dropped from the reporter's own buffer (oldest first). */
  bufferDrops: number;
  /** Batches whose first attempt failed and were tried again. */
  retries: number;
  inFlight: number;
  buffered: number;
}

const WARN_EVERY_MS = 5000;

export class KafkaReporter implements Reporter {
  private s!: KafkaReporterSettings;
  private ctx!: PluginContext;
  private producer!: Producer;
  private admin!: Admin;
  /** Topics known to exist (or whose creation was tried): created before their first send. */
  private readonly topics = new Map<string, Promise<void>>();
  private connected: Promise<void> | null = null;
  private pending: Pending[] = [];
  private pendingHead = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private readonly sends = new Set<Promise<void>>();
  private slotWaiters: (() => void)[] = [];
  private stopping = false;
  private st = { reported: 0, timeoutDrops: 0, errorDrops: 0, bufferDrops: 0, retries: 0 };
  private lastWarn = 0;
  private lastError = '';

  init(config: PluginConfig, ctx: PluginContext): void {
    this.ctx = ctx;
    this.s = kafkaReporterSettings(config, ctx.global, ctx.agent);
    const client = kafkaClient(this.s.connection, { clientId: this.s.clientId, requestTimeoutMs: this.s.sendTimeoutMs, log: ctx.log });
    this.admin = client.admin({ retry: { retries: 0 } });
    this.producer = client.producer({
      allowAutoTopicCreation: true,
      // kafkajs retries on its own unless told not to; ours are bounded (ADR-001).
      retry: { retries: 0 },
      idempotent: false,
      maxInFlightRequests: this.s.maxInFlight,
    });
  }

  /** Settings after merging with the global config (tests, status). */
  get settings(): KafkaReporterSettings {
    return this.s;
  }

  async start(): Promise<void> {
    // A broker that is down at start is not fatal: sends reconnect and drop until it is back.
    try {
      await this.connect();
      if (this.s.topic !== null && this.s.topicPrefix === null) await this.ensureTopics([this.s.topic], this.s.sendTimeoutMs);
    } catch (e) {
      this.ctx.log('warn', 'kafka reporter: broker not reachable at start; records are dropped until it is', {
        brokers: this.s.connection.brokers,
        error: (e as Error).message,
      });
    }
  }

  private connect(): Promise<void> {
    this.connected ??= withTimeout(this.producer.connect(), this.s.sendTimeoutMs, 'kafka connect').catch((e: unknown) => {
      this.connected = null;
      throw e;
    });
    return this.connected;
  }

  /**
   * A topic's first send would fail while the broker auto-creates it
   * (UNKNOWN_TOPIC_OR_PARTITION): create it first, once. A broker that
   * refuses creation leaves it to auto-creation or to the send's error.
   */
  private async ensureTopics(topics: string[], ms: number): Promise<void> {
    const missing = topics.filter((t) => !this.topics.has(t));
    if (missing.length) {
      const p = (async () => {
        await withTimeout(this.admin.connect(), ms, 'kafka admin connect');
        await withTimeout(this.admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true, timeout: ms }), ms, 'kafka create topics');
      })().catch((e: unknown) => {
        // Retried with the next batch for that topic.
        for (const t of missing) this.topics.delete(t);
        throw e;
      });
      for (const t of missing) this.topics.set(t, p);
    }
    await Promise.all(topics.map((t) => this.topics.get(t)));
  }

  async report(batch: readonly OutputRecord[]): Promise<void> {
    const bin = this.s.serialization === 'binary';
    for (const r of batch) {
      const msg = toKafkaMessage(r, this.ctx.taskId, this.ctx.agent, bin);
      this.pending.push({ topic: topicFor(r, this.s.topic, this.s.topicPrefix), msg, bytes: sizeOf(msg) });
    }
    this.trim();
    this.pump(false);
    if (this.buffered() > 0 && this.timer === null && !this.stopping) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump(true);
      }, this.s.batchTimeoutMs);
    }
    // Backpressure on the sender (whose own buffer then drops oldest) only while every slot is busy.
    while (this.inFlight >= this.s.maxInFlight && this.buffered() >= this.s.batchSize) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
  }

  private buffered(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Drop-head: the newest records are worth more (ADR-001). */
  private trim(): void {
    const excess = this.buffered() - this.s.bufferCapacity;
    if (excess > 0) {
      this.pendingHead += excess;
      this.st.bufferDrops += excess;
      this.warnDrops('buffer full');
    }
    if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  /** Starts sends while slots are free: full batches, or everything when `all` (timer, stop). */
  private pump(all: boolean): void {
    while (this.inFlight < this.s.maxInFlight) {
      const n = this.buffered();
      if (n === 0 || (!all && n < this.s.batchSize)) break;
      // Up to batch_size records, and under max_message_bytes (the broker refuses larger requests).
      let take = 0;
      let bytes = 0;
      const limit = Math.min(n, this.s.batchSize);
      while (take < limit) {
        const b = this.pending[this.pendingHead + take]!.bytes;
        if (take > 0 && bytes + b > this.s.maxMessageBytes * 0.9) break;
        bytes += b;
        take++;
      }
      const chunk = this.pending.slice(this.pendingHead, this.pendingHead + take);
      this.pendingHead += take;
      if (this.pendingHead === this.pending.length) {
        this.pending = [];
        this.pendingHead = 0;
      }
      this.inFlight++;
      const p = this.send(chunk).finally(() => {
        this.inFlight--;
        this.sends.delete(p);
        this.pump(this.stopping || this.timer === null);
        const w = this.slotWaiters.splice(0);
        for (const f of w) f();
      });
      this.sends.add(p);
    }
    if (this.buffered() === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private async send(chunk: Pending[]): Promise<void> {
    const byTopic = new Map<string, KafkaMessage[]>();
    for (const p of chunk) {
      let l = byTopic.get(p.topic);
      if (!l) byTopic.set(p.topic, (l = []));
      l.push(p.msg);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    const deadline = performance.now() + this.s.sendTimeoutMs;
    let attempt = 0;
    for (;;) {
      const left = deadline - performance.now();
      try {
        if (left <= 0) throw new TimeoutError('send timeout');
        await withTimeout(
          (async () => {
            await this.connect();
            await this.ensureTopics([...byTopic.keys()], Math.max(1, deadline - performance.now())).catch(() => {});
            await this.producer.sendBatch({
              topicMessages,
              acks: this.s.acks,
              timeout: Math.max(1, Math.round(left)),
              compression: compressionTypes[this.s.compression],
            });
          })(),
          left,
          'kafka send',
        );
        this.st.reported += chunk.length;
        return;
      } catch (e) {
        const err = e as Error;
        this.lastError = err.message;
        if (err instanceof TimeoutError) {
          this.st.timeoutDrops += chunk.length;
          this.warnDrops('send timeout');
          return;
        }
        if (attempt >= this.s.maxRetries || deadline - performance.now() <= 0) {
          this.st.errorDrops += chunk.length;
          this.warnDrops('send failed');
          return;
        }
        attempt++;
        this.st.retries++;
        // A short pause so that a refused connection is not retried in a tight loop.
        await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - performance.now()))));
      }
    }
  }

  private warnDrops(why: string): void {
    const now = Date.now();
    if (now - this.lastWarn < WARN_EVERY_MS) return;
    this.lastWarn = now;
    this.ctx.log('warn', `kafka reporter: dropping records (${why})`, {
      timeout_drops: this.st.timeoutDrops,
      error_drops: this.st.errorDrops,
      buffer_drops: this.st.bufferDrops,
      error: this.lastError,
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Flush: every buffered record gets its send (bounded by send_timeout per batch).
    while (this.buffered() > 0 || this.sends.size > 0) {
      this.pump(true);
      if (this.sends.size > 0) await Promise.race(this.sends);
    }
    await withTimeout(this.producer.disconnect(), this.s.sendTimeoutMs, 'kafka disconnect').catch(() => {});
    await withTimeout(this.admin.disconnect(), this.s.sendTimeoutMs, 'kafka disconnect').catch(() => {});
  }

  stats(): KafkaReporterStats {
    return { ...this.st, inFlight: this.inFlight, buffered: this.buffered() };
  }
}
