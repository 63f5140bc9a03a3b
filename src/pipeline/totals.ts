// Adds up the per-pipeline snapshots of a task into one set of totals.
import type { PipelineSnapshot } from './messages.ts';

export interface PipelineTotals {
  counters: Record<string, number>;
  decodeErrors: Record<string, number>;
  decoder: Record<string, number>;
  parsed: Record<string, number>;
  parserStats: Record<string, Record<string, number>>;
  perWorker: { index: number; received: number; emitted: number; channelUsage: number }[];
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function mergeSnapshots(snaps: PipelineSnapshot[]): PipelineTotals {
  const t: PipelineTotals = { counters: {}, decodeErrors: {}, decoder: {}, parsed: {}, parserStats: {}, perWorker: [] };
  for (const s of [...snaps].sort((a, b) => a.index - b.index)) {
    addInto(t.counters, s.counters);
    addInto(t.decodeErrors, s.decodeErrors);
    addInto(t.decoder, s.decoder);
    addInto(t.parsed, s.parsed);
    for (const [p, st] of Object.entries(s.parserStats)) addInto((t.parserStats[p] ??= {}), st);
    t.perWorker.push({
      index: s.index,
      received: s.counters['received'] ?? 0,
      emitted: s.counters['emitted'] ?? 0,
      channelUsage: s.channelUsage,
    });
  }
  return t;
}
