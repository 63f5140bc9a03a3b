// The shape every benchmark section returns, so that `npm run bench` can
// print them side by side and save them for BENCHMARKS.md.
export interface BenchRow {
  /** What was measured, e.g. "decoder, mixed capture, 1 core". */
  name: string;
  value: number;
  /** "pkt/s", "MB/s", "ns/pkt", "ratio", ... */
  unit: string;
  /** How it was measured or what it is compared with. */
  note?: string;
}

export interface BenchSection {
  title: string;
  rows: BenchRow[];
  /** Reference points that could not run here, and why (e.g. a peer tool missing). */
  skipped?: string[];
}

export function formatSection(s: BenchSection): string {
  const lines = [`== ${s.title}`];
  const w = Math.max(...s.rows.map((r) => r.name.length), 10);
  for (const r of s.rows) {
    const v = r.value >= 1000 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(r.value < 10 ? 3 : 1);
    lines.push(`  ${r.name.padEnd(w)}  ${v.padStart(14)} ${r.unit}${r.note ? `  (${r.note})` : ''}`);
  }
  for (const k of s.skipped ?? []) lines.push(`  skipped: ${k}`);
  return lines.join('\n');
}
