// Readable renderings of the control methods' results; --json prints them raw.
import type { TaskCounters } from '../task/task-counters.ts';
import type { TaskStatusView, TaskView } from '../task/task-manager.ts';

const dash = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));

function rows(pairs: [string, string][], indent = '  '): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}\n`).join('');
}

function table(head: string[], body: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd() + '\n';
  return line(head) + body.map(line).join('');
}

function pairsList(m: Record<string, number>): string {
  const e = Object.entries(m);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : '0';
}

function mb(n: number): string {
  return `${(n / 1048576).toFixed(1)} MB`;
}

/** Where packets and records were dropped, in the order they travel; the end-of-run summary shows the same line. */
export function droppedText(c: TaskCounters): string {
  return (
    `kernel ${c.kernel_drops}, pipeline channel ${c.pipeline_channel_drops}, send buffer ${c.sender_buffer_drops}, ` +
    // (absent from the counters of a daemon older than the field)
    `reporter timeout ${c.reporter_timeout_drops}, reporter error ${c.reporter_error_drops}, reporter buffer ${c.reporter_buffer_drops ?? 0}`
  );
}

export function countersRows(c: TaskCounters): [string, string][] {
  return [
    ['captured', `${c.packets_captured} packets, ${c.bytes_captured} bytes in ${c.elapsed_sec} s (${c.workers} worker${c.workers === 1 ? '' : 's'})`],
    ['decode errors', String(c.decode_errors)],
    ['parsed', pairsList(c.parsed)],
    ['unmatched', `${c.unmatched_forwarded} forwarded, ${c.unmatched_dropped} dropped`],
    ['filtered', String(c.filtered)],
    ['reported', pairsList(c.reported)],
    ['dropped', droppedText(c)],
    ...(c.error ? ([['error', c.error]] as [string, string][]) : []),
  ];
}

export function renderTaskList(r: { tasks: TaskView[] }): string {
  if (!r.tasks.length) return 'no tasks\n';
  return table(
    ['ID', 'STATE', 'RESTARTS', 'CREATED', 'STARTED', 'SOURCE'],
    r.tasks.map((t) => [t.id, t.state, String(t.restart_count), dash(t.created_at), dash(t.started_at), dash(t.source)]),
  );
}

export function renderTaskStatus(t: TaskStatusView): string {
  const pairs: [string, string][] = [
    ['state', t.state],
    ['source', dash(t.source)],
    ['created', dash(t.created_at)],
    ['started', dash(t.started_at)],
    ['stopped', dash(t.stopped_at)],
    ['restarts', String(t.restart_count)],
    ['failure', dash(t.failure_reason)],
    ...(t.counters ? countersRows(t.counters) : []),
  ];
  return `task ${t.id}\n` + rows(pairs);
}

export function renderTaskCreated(t: TaskView): string {
  return `task ${t.id} created: ${t.state}\n`;
}

export function renderTaskDeleted(t: TaskView & { removed: boolean }): string {
  return t.removed ? `task ${t.id} removed from the history (it was ${t.state})\n` : `task ${t.id} stopped\n`;
}

interface Status {
  version: string;
  pid: number;
  state: string;
  uptime_sec: number;
  node: { hostname: string; ip: string; tags: Record<string, string> };
  config_file: string | null;
  socket: string;
  data_dir: string;
  metrics: { address: string; path: string } | null;
  log_level: string;
  active_task: { id: string; state: string; restart_count: number } | null;
  tasks: Record<string, number> | null;
}

export function renderStatus(s: Status): string {
  const tags = Object.entries(s.node.tags).map(([k, v]) => `${k}=${v}`).join(' ');
  const counts = Object.entries(s.tasks ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
  return (
    `otus ${s.version}: daemon ${s.state}, pid ${s.pid}, up ${s.uptime_sec} s\n` +
    rows([
      ['node', `${s.node.hostname} (${s.node.ip})${tags ? ' ' + tags : ''}`],
      ['config', dash(s.config_file ?? '(defaults)')],
      ['socket', s.socket],
      ['data dir', s.data_dir],
      ['metrics', s.metrics ? `http://${s.metrics.address}${s.metrics.path}` : 'off'],
      ['log level', s.log_level],
      ['active task', s.active_task ? `${s.active_task.id} (${s.active_task.state}, restarts ${s.active_task.restart_count})` : 'none'],
      ['tasks', counts || 'none'],
    ])
  );
}

interface Stats {
  process: {
    pid: number;
    uptime_sec: number;
    memory: { rss: number; heap_used: number; heap_total: number };
    cpu: { user_sec: number; system_sec: number; percent_since_last: number };
    event_loop_utilization: number;
    open_fds: number | null;
  };
  task: { id: string; state: string; restart_count: number; counters: TaskCounters | null } | null;
  log: { loki_dropped: number };
}

export function renderStats(s: Stats): string {
  const p = s.process;
  const pairs: [string, string][] = [
    ['memory', `rss ${mb(p.memory.rss)}, heap ${mb(p.memory.heap_used)} of ${mb(p.memory.heap_total)}`],
    ['cpu', `${p.cpu.percent_since_last}% (user ${p.cpu.user_sec.toFixed(2)} s, system ${p.cpu.system_sec.toFixed(2)} s)`],
    ['event loop', `${Math.round(p.event_loop_utilization * 100)}% busy`],
    ['open files', dash(p.open_fds)],
    ['loki dropped', String(s.log.loki_dropped)],
    ['task', s.task ? `${s.task.id} (${s.task.state}, restarts ${s.task.restart_count})` : 'none'],
    ...(s.task?.counters ? countersRows(s.task.counters) : []),
  ];
  return `otus daemon pid ${p.pid}, up ${p.uptime_sec} s\n` + rows(pairs);
}

export function renderReload(r: { config_file: string | null; changed: string[]; restart_needed: string[]; log_level: string }): string {
  let out = `configuration reloaded from ${r.config_file ?? '(defaults)'}: ${r.changed.length ? r.changed.join(', ') : 'no changes'}\n`;
  if (r.restart_needed.length) out += `these take effect only after a restart: ${r.restart_needed.join(', ')}\n`;
  return out + `log level: ${r.log_level}\n`;
}
