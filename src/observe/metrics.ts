// Prometheus metrics (DESIGN section 6). Every task figure is read from the
// task's summary when Prometheus scrapes, so the per-packet path does no
// metrics work at all: the pipelines already count for their own summary.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TaskSnapshot } from '../task/task-manager.ts';
import { REASSEMBLY_STATS } from '../reassembly/api.ts';

/** The reassembly figures that are levels, not counts. */
const REASSEMBLY_GAUGES: ReadonlySet<string> = new Set(['active_streams', 'memory_bytes', 'memory_peak']);

export interface MetricsSources {
  tasks(): TaskSnapshot[];
  /** Log lines the Loki output had to drop (its buffer was full). */
  lokiDropped(): number;
  version: string;
}

type Labels = Record<string, string | number>;
type Emit = (labels: Labels, value: number) => void;

/** Several collect callbacks run per scrape; they share one reading of the tasks. */
function memo<T>(read: () => T, ms = 200): () => T {
  let at = -Infinity;
  let v: T;
  return () => {
    const now = performance.now();
    if (now - at > ms) {
      v = read();
      at = now;
    }
    return v;
  };
}

export function createMetricsRegistry(src: MetricsSources): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const tasks = memo(() => src.tasks());

  const counter = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        fill((l, v) => this.inc(l, v));
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        // Two reporters of one kind in a task (two files) share their labels:
        // counters add up (inc), a level keeps the highest, the one to watch.
        const seen = new Map<string, number>();
        fill((l, v) => {
          const k = JSON.stringify(l);
          const prev = seen.get(k);
          if (prev !== undefined && prev >= v) return;
          seen.set(k, v);
          this.set(l, v);
        });
      },
    });
  /** For every task with figures. */
  const each = (fn: (t: TaskSnapshot & { summary: NonNullable<TaskSnapshot['summary']> }, emit: Emit) => void) => (emit: Emit) => {
    for (const t of tasks()) if (t.summary) fn(t as never, emit);
  };

  counter('otus_packets_captured_total', 'Packets read by the capturer', ['task'], each((t, e) => e({ task: t.id }, t.summary.capture.packets)));
  counter('otus_bytes_captured_total', 'Bytes read by the capturer', ['task'], each((t, e) => e({ task: t.id }, t.summary.capture.bytes)));
  counter('otus_capture_kernel_drops_total', 'Packets the kernel ring dropped (tp_drops)', ['task'], each((t, e) => e({ task: t.id }, t.summary.capture.kernelDrops)));
  counter('otus_capture_kernel_packets_total', 'Packets the kernel passed to the capture sockets, drops included (tp_packets)', ['task'], each((t, e) => {
    if (t.summary.capture.kernelPackets !== undefined) e({ task: t.id }, t.summary.capture.kernelPackets);
  }));
  counter('otus_capture_kernel_freezes_total', 'Times a kernel capture ring froze its queue (tp_freeze_q_cnt)', ['task'], each((t, e) => e({ task: t.id }, t.summary.capture.kernelFreezes)));
  counter('otus_pipeline_channel_drops_total', 'Packets dropped because a pipeline input was full (drop newest)', ['task'], each((t, e) => e({ task: t.id }, t.summary.capture.channelDrops)));
  gauge('otus_pipeline_channel_usage_ratio', 'Fill level of each pipeline input channel (0..1)', ['task', 'pipeline'], each((t, e) => {
    for (const w of t.summary.pipelines.perWorker) e({ task: t.id, pipeline: w.index }, w.channelUsage);
  }));
  counter('otus_packets_parsed_total', 'Packets a parser turned into a record', ['task', 'parser'], each((t, e) => {
    for (const [parser, n] of Object.entries(t.summary.pipelines.parsed)) e({ task: t.id, parser }, n);
  }));
  counter('otus_packets_filtered_total', 'Records dropped by filter processors', ['task'], each((t, e) => e({ task: t.id }, t.summary.pipelines.counters['filtered'] ?? 0)));
  counter('otus_packets_unmatched_total', 'Packets no parser handled, by unmatched_policy action', ['task', 'action'], each((t, e) => {
    e({ task: t.id, action: 'forwarded' }, t.summary.pipelines.counters['unmatched_forwarded'] ?? 0);
    e({ task: t.id, action: 'dropped' }, t.summary.pipelines.counters['unmatched_dropped'] ?? 0);
  }));
  counter('otus_decode_errors_total', 'Packets the L2-L4 decoder could not decode, by reason', ['task', 'reason'], each((t, e) => {
    for (const [reason, n] of Object.entries(t.summary.pipelines.decodeErrors)) e({ task: t.id, reason }, n);
  }));
  // TCP stream reassembly (ADR-005), summed over the task's pipelines; only
  // for tasks that reassemble. Gauges are current values (memory_peak: the
  // sum of each pipeline's peak), the rest count since the task started.
  for (const stat of REASSEMBLY_STATS) {
    const key = `tcp_${stat}`;
    const collect = each((t, e) => {
      const v = t.summary.pipelines.decoder[key];
      if (v !== undefined) e({ task: t.id }, v);
    });
    if (REASSEMBLY_GAUGES.has(stat)) gauge(`otus_tcp_reassembly_${stat}`, `TCP reassembly: ${stat.replace(/_/g, ' ')}`, ['task'], collect);
    else counter(`otus_tcp_reassembly_${stat}_total`, `TCP reassembly: ${stat.replace(/_/g, ' ')}`, ['task'], collect);
  }
  counter('otus_packets_reported_total', 'Records a reporter delivered', ['task', 'reporter'], each((t, e) => {
    for (const r of t.summary.reporters) e({ task: t.id, reporter: r.name }, r.reported);
  }));
  counter('otus_sender_buffer_drops_total', 'Records dropped because a send buffer was full (drop oldest)', ['task', 'reporter'], each((t, e) => {
    for (const s of t.summary.sender) e({ task: t.id, reporter: s.name }, s.bufferDrops);
  }));
  gauge('otus_sender_buffer_usage_ratio', 'Fill level of each reporter send buffer (0..1)', ['task', 'reporter'], each((t, e) => {
    for (const s of t.summary.sender) e({ task: t.id, reporter: s.name }, s.usage);
  }));
  counter('otus_reporter_timeout_drops_total', 'Records dropped after a reporter ack timeout', ['task', 'reporter'], each((t, e) => {
    for (const r of t.summary.reporters) e({ task: t.id, reporter: r.name }, r.timeoutDrops);
  }));
  counter('otus_reporter_error_drops_total', 'Records dropped after a reporter error', ['task', 'reporter'], each((t, e) => {
    for (const r of t.summary.reporters) e({ task: t.id, reporter: r.name }, r.errorDrops);
  }));
  counter('otus_reporter_buffer_drops_total', "Records dropped from a reporter's own buffer (Kafka: drop oldest when full)", ['task', 'reporter'], each((t, e) => {
    for (const r of t.summary.reporters) if (r.bufferDrops !== undefined) e({ task: t.id, reporter: r.name }, r.bufferDrops);
  }));
  counter('otus_reporter_skipped_total', 'Records a reporter does not carry by design (HEP: types without a HEP mapping)', ['task', 'reporter'], each((t, e) => {
    for (const r of t.summary.reporters) if (r.skipped !== undefined) e({ task: t.id, reporter: r.name }, r.skipped);
  }));
  counter('otus_task_restarts_total', 'Times a task was resumed after a daemon restart', ['task'], (e) => {
    for (const t of tasks()) e({ task: t.id }, t.restartCount);
  });
  gauge('otus_task_state', 'The state of each task of this process (1 for its current state)', ['task', 'state'], (e) => {
    for (const t of tasks()) e({ task: t.id, state: t.state }, 1);
  });
  counter('otus_log_loki_dropped_total', 'Log lines dropped because the Loki buffer was full', [], (e) => e({}, src.lokiDropped()));
  gauge('otus_build_info', 'Version of the running daemon', ['version'], (e) => e({ version: src.version }, 1));
  return register;
}
