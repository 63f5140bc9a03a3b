// The live figures of a task in a flat, stable shape for `task status` and
// `daemon_stats`, so that callers need not know TaskSummary's internals.
import type { TaskSummary } from '../pipeline/task-runner.ts';

export interface TaskCounters {
  elapsed_sec: number;
  workers: number;
  packets_captured: number;
  bytes_captured: number;
  kernel_drops: number;
  pipeline_channel_drops: number;
  decode_errors: number;
  parsed: Record<string, number>;
  filtered: number;
  unmatched_forwarded: number;
  unmatched_dropped: number;
  reported: Record<string, number>;
  sender_buffer_drops: number;
  reporter_timeout_drops: number;
  reporter_error_drops: number;
  /** Dropped from a reporter's own buffer (Kafka). */
  reporter_buffer_drops: number;
  /** Not carried by a reporter by design (HEP: types without a mapping); not drops. */
  reporter_skipped: number;
  error: string | null;
}

const sum = (xs: Iterable<number>) => {
  let t = 0;
  for (const x of xs) t += x;
  return t;
};

/** Two reporters of one kind (two files) add up under their name. */
function byName(pairs: [string, number][]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of pairs) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function countersOf(s: TaskSummary): TaskCounters {
  const c = s.pipelines.counters;
  return {
    elapsed_sec: Math.round(s.elapsedSec * 1000) / 1000,
    workers: s.workers,
    packets_captured: s.capture.packets,
    bytes_captured: s.capture.bytes,
    kernel_drops: s.capture.kernelDrops,
    pipeline_channel_drops: s.capture.channelDrops,
    decode_errors: sum(Object.values(s.pipelines.decodeErrors)),
    parsed: { ...s.pipelines.parsed },
    filtered: c['filtered'] ?? 0,
    unmatched_forwarded: c['unmatched_forwarded'] ?? 0,
    unmatched_dropped: c['unmatched_dropped'] ?? 0,
    reported: byName(s.reporters.map((r) => [r.name, r.reported])),
    sender_buffer_drops: sum(s.sender.map((x) => x.bufferDrops)),
    reporter_timeout_drops: sum(s.reporters.map((r) => r.timeoutDrops)),
    reporter_error_drops: sum(s.reporters.map((r) => r.errorDrops)),
    reporter_buffer_drops: sum(s.reporters.map((r) => r.bufferDrops ?? 0)),
    reporter_skipped: sum(s.reporters.map((r) => r.skipped ?? 0)),
    error: s.error,
  };
}
