// Loki push output (ADR-018): log lines batched by batch_size / batch_timeout
// and POSTed as JSON to /loki/api/v1/push. It never blocks the daemon: lines
// wait in a bounded buffer that drops its oldest when Loki is away (counted),
// one request is in flight at a time, and failures back off.

export interface LokiOptions {
  endpoint: string;
  /** Static labels of every stream; `level` is added per line. */
  labels: Record<string, string>;
  batchSize: number;
  batchTimeoutMs: number;
  /** Lines held while Loki is unreachable; the oldest go first beyond it. */
  maxBuffered?: number;
  requestTimeoutMs?: number;
  /** Told about failures (rate-limited); must not log through Loki itself. */
  onError?: (message: string) => void;
}

export interface LokiStats {
  sent: number;
  dropped: number;
  buffered: number;
  failedPushes: number;
}

interface Entry {
  ts: string;
  level: string;
  line: string;
}

const MAX_BACKOFF_MS = 30_000;
const ERROR_REPORT_EVERY_MS = 60_000;

/** http://loki:3100 -> http://loki:3100/loki/api/v1/push; a full push URL is kept. */
export function pushUrlOf(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/loki/api/v1/push';
  return u.toString();
}

export class LokiPusher {
  private readonly url: string;
  private readonly maxBuffered: number;
  private buf: Entry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private lastErrorReport = -Infinity;
  private readonly st: LokiStats = { sent: 0, dropped: 0, buffered: 0, failedPushes: 0 };

  constructor(private readonly o: LokiOptions) {
    this.url = pushUrlOf(o.endpoint);
    this.maxBuffered = o.maxBuffered ?? Math.max(10 * o.batchSize, 10_000);
  }

  /** Takes one JSON log line (from pino). */
  push(line: string): void {
    if (this.closed) return;
    const level = /"level":"(\w+)"/.exec(line)?.[1] ?? 'info';
    this.buf.push({ ts: `${Date.now()}000000`, level, line: line.endsWith('\n') ? line.slice(0, -1) : line });
    if (this.buf.length > this.maxBuffered) {
      const n = this.buf.length - this.maxBuffered;
      this.buf.splice(0, n);
      this.st.dropped += n;
    }
    this.schedule();
  }

  stats(): LokiStats {
    return { ...this.st, buffered: this.buf.length };
  }

  /** Sends what is buffered, giving up after `deadlineMs`; then accepts no more lines. */
  async close(deadlineMs = 2000): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      if (this.inFlight) {
        await this.race(this.inFlight, until);
        continue;
      }
      if (!this.buf.length) break;
      const before = this.st.failedPushes;
      await this.race(this.send(), until);
      if (this.st.failedPushes !== before) break; // Loki is away: do not hold the shutdown for it
    }
    this.st.dropped += this.buf.length;
    this.buf = [];
  }

  private race(p: Promise<void>, until: number): Promise<void> {
    return Promise.race([p, new Promise<void>((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
  }

  private schedule(): void {
    if (this.closed || this.inFlight || !this.buf.length) return;
    const now = Date.now();
    const due = this.buf.length >= this.o.batchSize ? 0 : this.o.batchTimeoutMs;
    const delay = Math.max(due, this.retryAt - now);
    if (this.timer) {
      if (delay > 0) return; // the pending timer is soon enough
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, delay);
    this.timer.unref();
  }

  private send(): Promise<void> {
    if (this.inFlight || !this.buf.length) return this.inFlight ?? Promise.resolve();
    const batch = this.buf.splice(0, this.o.batchSize);
    this.inFlight = this.post(batch).finally(() => {
      this.inFlight = null;
      this.schedule();
    });
    return this.inFlight;
  }

  private async post(batch: Entry[]): Promise<void> {
    const streams = new Map<string, [string, string][]>();
    for (const e of batch) {
      let values = streams.get(e.level);
      if (!values) streams.set(e.level, (values = []));
      values.push([e.ts, e.line]);
    }
    const body = JSON.stringify({
      streams: [...streams].map(([level, values]) => ({ stream: { ...this.o.labels, level }, values })),
    });
    let retry = true;
    let problem: string | null = null;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 5000),
      });
      await res.arrayBuffer().catch(() => {});
      if (res.ok) {
        this.st.sent += batch.length;
        this.failures = 0;
        this.retryAt = 0;
        return;
      }
      // A 4xx other than 429 will fail the same way again: the batch itself is refused.
      retry = res.status >= 500 || res.status === 429;
      problem = `HTTP ${res.status}`;
    } catch (e) {
      problem = (e as Error).message;
    }
    this.st.failedPushes++;
    this.failures++;
    this.retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, this.o.batchTimeoutMs * 2 ** this.failures);
    if (retry && !this.closed) {
      this.buf.unshift(...batch);
      if (this.buf.length > this.maxBuffered) {
        const n = this.buf.length - this.maxBuffered;
        this.buf.splice(0, n);
        this.st.dropped += n;
      }
    } else {
      this.st.dropped += batch.length;
    }
    const now = Date.now();
    if (now - this.lastErrorReport >= ERROR_REPORT_EVERY_MS) {
      this.lastErrorReport = now;
      this.o.onError?.(`loki push to ${this.url} failed (${problem}); ${retry ? 'retrying with backoff' : 'batch dropped'}`);
    }
  }
}
