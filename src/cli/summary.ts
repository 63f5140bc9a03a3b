// The end-of-run summary: every counter, so that an operator can see where
// each captured packet went (captured = errors + drops + filtered + reported).
import type { TaskSummary } from '../pipeline/task-runner.ts';
import type { TaskConfig } from '../task/task-schema.ts';
import { countersOf } from '../task/task-counters.ts';
import { droppedText } from './control-format.ts';

function list(m: Record<string, number>): string {
  const parts = Object.entries(m)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function sum(m: Record<string, number>): number {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

export function formatSummary(task: TaskConfig, s: TaskSummary): string {
  const c = s.pipelines.counters;
  const n = (k: string) => c[k] ?? 0;
  const src = task.capture.file ?? task.capture.interface ?? task.capture.name;
  const secs = s.elapsedSec;
  const pps = secs > 0 ? Math.round(s.capture.packets / secs) : 0;
  const rows: [string, string][] = [
    ['read', `${s.capture.packets} packets, ${s.capture.bytes} bytes`],
    ['decoded', `${(s.pipelines.decoder['decoded'] ?? 0)} (non-IP ${s.pipelines.decoder['non_ip'] ?? 0})`],
    ['decode errors', `${n('decode_dropped')} dropped${list(s.pipelines.decodeErrors)}`],
    ['ip fragments', `${s.pipelines.decoder['fragments'] ?? 0} seen, ${s.pipelines.decoder['reassembled'] ?? 0} datagrams reassembled, ${n('fragments_held')} held` +
      `, ${(s.pipelines.decoder['fragment_timeouts'] ?? 0) + (s.pipelines.decoder['fragment_evictions'] ?? 0)} evicted`],
    ['parsed', `${sum(s.pipelines.parsed)}${list(s.pipelines.parsed)}${n('parser_no_result') ? `, ${n('parser_no_result')} without a record` : ''}`],
    ['unmatched', `${n('unmatched_forwarded')} forwarded as raw, ${n('unmatched_dropped')} dropped`],
    ['filtered', `${n('filtered')}`],
    ['reported', s.reporters.map((r) => `${r.name} ${r.reported}${r.skipped ? ` (${r.skipped} skipped: not carried by ${r.name})` : ''}`).join(', ')],
    ['dropped', droppedText(countersOf(s))],
  ];
  if (s.capture.kernelPackets !== undefined) {
    rows.splice(1, 0, [
      'kernel',
      `${s.capture.kernelPackets} packets to the capture socket${s.workers > 1 && s.dispatchMode === 'binding' ? 's' : ''}, ` +
        `${s.capture.kernelDrops} dropped, ${s.capture.kernelFreezes} queue freezes`,
    ]);
  }
  const tcp = s.pipelines.decoder;
  if ((tcp['tcp_segments'] ?? 0) > 0) {
    const t = (k: string) => tcp[`tcp_${k}`] ?? 0;
    rows.push([
      'tcp reassembly',
      `${t('segments')} segments, ${t('bytes_delivered')} bytes, ${t('streams_created')} streams (${t('mid_stream_joins')} joined mid-stream)` +
        `, ${t('out_of_order_segments')} out of order, ${t('retransmitted_segments')} retransmitted, ${t('gaps')} gaps (${t('gap_bytes')} bytes)` +
        `, evicted ${t('streams_timed_out')} idle / ${t('streams_evicted_memory')} memory / ${t('streams_evicted_max')} max streams, ${t('overflow_bytes')} bytes overflowed`,
    ]);
  }
  for (const [p, st] of Object.entries(s.pipelines.parserStats)) {
    const e = list(st);
    if (e) rows.push([`${p} parser`, e.slice(2, -1)]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  const head = `otus run: task ${task.id}, ${src}, ${s.workers} worker${s.workers === 1 ? '' : 's'}, ${secs.toFixed(2)} s (${pps} packets/s)\n`;
  return head + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}\n`).join('');
}
