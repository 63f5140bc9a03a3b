// `otus run`: one task over a capture file, or live on an interface until
// interrupted (Ctrl-C / SIGTERM stop it in order and print the summary),
// without a daemon.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { loadGlobalConfig, DEFAULT_CONFIG_PATH } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { knownPlugins } from '../plugin/registry.ts';
import { TaskRunner, type TaskSummary } from '../pipeline/task-runner.ts';
import { loadTaskFile, parseTask, type TaskConfig } from '../task/task-schema.ts';
import { formatSummary } from './summary.ts';

export interface RunOptions {
  pcap?: string;
  /** Live capture on this interface (afpacket, binding mode). */
  interface?: string;
  /** BPF filter (tcpdump syntax) for live capture. */
  filter?: string;
  config?: string;
  task?: string;
  workers?: string;
  format?: string;
  out?: string;
  progress?: boolean;
  statsJson?: boolean;
}

/** The capture shipped with the project: a real SIP call with RTP, RTCP and DNS. */
export const SAMPLE_CAPTURE = fileURLToPath(new URL('../../../samples/sip-call.pcap', import.meta.url));

/** Parsers a task without --task uses: every built-in one, in routing order. */
function defaultParsers(): { name: string; config: Record<string, unknown> }[] {
  const order = ['sip', 'rtcp', 'rtp', 'dns', 'http'];
  const known = knownPlugins('parser');
  return order.filter((n) => known.includes(n)).map((name) => ({ name, config: {} }));
}

export function buildRunTask(o: RunOptions): TaskConfig {
  const format = o.format ?? 'text';
  if (format !== 'json' && format !== 'text') throw new OtusError(`--format: expected json or text, got "${format}"`);
  let workers: number | undefined;
  if (o.workers !== undefined) {
    workers = Number(o.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new OtusError(`--workers: expected a whole number from 1 to 256, got "${o.workers}"`);
    }
  }
  if (o.pcap && o.interface) throw new OtusError('give either --pcap or --interface, not both');
  const reporter = o.out ? { name: 'file', config: { path: o.out } } : { name: 'console', config: { format } };
  if (o.task) {
    const t = loadTaskFile(o.task);
    if (o.pcap) t.capture = { name: 'pcap', file: o.pcap, config: {} };
    if (o.interface) {
      // Keep the task's afpacket settings (ring, fan-out, mode); only the source changes.
      const c = t.capture.name === 'afpacket' ? t.capture : { name: 'afpacket', config: {} };
      t.capture = { ...c, interface: o.interface, file: undefined };
      delete t.capture.file;
    }
    if (o.filter !== undefined) {
      if (t.capture.name !== 'afpacket') throw new OtusError('--filter applies to live capture: give --interface (or a task capturing with afpacket)');
      t.capture.bpf_filter = o.filter;
    }
    if (workers !== undefined) t.workers = workers;
    if (o.out || o.format) t.reporters = [reporter];
    return t;
  }
  if (o.filter !== undefined && !o.interface) throw new OtusError('--filter applies to live capture: give --interface');
  const file = o.pcap ?? SAMPLE_CAPTURE;
  const capture = o.interface
    ? { name: 'afpacket', interface: o.interface, ...(o.filter !== undefined ? { bpf_filter: o.filter } : {}) }
    : { name: 'pcap', file };
  return parseTask(
    {
      id: 'run',
      workers: workers ?? 0,
      capture,
      parsers: defaultParsers(),
      reporters: [reporter],
      unmatched_policy: 'forward',
    },
    'otus run',
  );
}

export async function runCommand(o: RunOptions): Promise<number> {
  const configFile = o.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  const { config } = loadGlobalConfig(configFile);
  const task = buildRunTask(o);
  if (task.capture.file && !existsSync(task.capture.file)) {
    throw new OtusError(`capture file not found: ${task.capture.file}`);
  }
  const log = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (level === 'debug') return;
    process.stderr.write(`otus: ${level}: ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
  };
  const runner = new TaskRunner({ task, global: config, agent: config.otus.node.hostname, log });

  // A progress bar only where a person watches and it cannot mix with records.
  const showBar = o.progress !== false && process.stderr.isTTY && (task.reporters[0]?.name !== 'console' || !process.stdout.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: task.capture.interface
            ? `capturing on ${task.capture.interface} | {packets} packets | {records} records (Ctrl-C to stop)`
            : 'reading [{bar}] {percentage}% | {packets} packets | {records} records',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;

  const onSignal = () => void runner.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  await runner.start();
  if (task.capture.interface) {
    // Every socket is open (and filtered) from here on: say so, for the person at the terminal and for scripts.
    const w = runner.workers;
    process.stderr.write(`otus: capturing on ${task.capture.interface} (${w} worker${w === 1 ? '' : 's'}, ${runner.mode} mode); Ctrl-C to stop\n`);
  }
  let timer: NodeJS.Timeout | undefined;
  if (bar) {
    bar.start(100, 0, { packets: 0, records: 0 });
    timer = setInterval(() => {
      const s = runner.summary();
      bar.update(Math.round((runner.progress() ?? 0) * 100), { packets: s.capture.packets, records: s.pipelines.counters['emitted'] ?? 0 });
    }, 200);
  }
  let summary: TaskSummary;
  try {
    summary = await runner.wait();
  } finally {
    if (timer) clearInterval(timer);
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stderr.write(o.statsJson ? JSON.stringify(summary) + '\n' : formatSummary(task, summary));
  if (summary.error) {
    process.stderr.write(`otus: error: ${summary.error}\n`);
    return 1;
  }
  return 0;
}
