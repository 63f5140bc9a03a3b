// Runs the real daemon (bin/otus daemon) for the end-to-end tests: a temp
// directory with its config, socket, pid file and data_dir, metrics on a free
// 127.0.0.1 port, and helpers to drive it through the CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { pcapBytes, type PcapRecord } from '../helpers/pcap-writer.ts';
import { call } from './rpc-client.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const OTUS = join(ROOT, 'bin', 'otus');
export const SAMPLE = join(ROOT, 'samples', 'sip-call.pcap');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

type Tree = Record<string, unknown>;

function merge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null ? merge(cur as Tree, v as Tree) : v;
  }
  return out;
}

export interface DaemonHandle {
  dir: string;
  configFile: string;
  socket: string;
  pidFile: string;
  dataDir: string;
  metricsUrl: string;
  proc: ChildProcess;
  /** Everything the daemon wrote on stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines from stdout. */
  logLines(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait; SIGKILL if it does not stop within `ms`. */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface DaemonSetup {
  dir: string;
  configFile: string;
  socket: string;
  pidFile: string;
  dataDir: string;
  port: number;
}

/** Writes the config for a daemon in `dir`; `extra` is merged over the otus section. */
export async function setupDaemon(dir: string, extra: Tree = {}, port?: number): Promise<DaemonSetup> {
  mkdirSync(dir, { recursive: true });
  const p = port ?? (await freePort());
  const socket = join(dir, 'run', 'otus.sock');
  const pidFile = join(dir, 'run', 'otus.pid');
  const dataDir = join(dir, 'data');
  const otus = merge(
    {
      node: { hostname: 'edge-test' },
      control: { socket, pid_file: pidFile },
      data_dir: dataDir,
      metrics: { enabled: true, listen: `127.0.0.1:${p}`, path: '/metrics' },
      log: { level: 'info', format: 'json', outputs: { stdout: { enabled: true } } },
      task_persistence: { enabled: true, auto_restart: true, gc_interval: '1h', max_task_history: 100 },
    },
    extra,
  );
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, stringify({ otus }));
  return { dir, configFile, socket, pidFile, dataDir, port: p };
}

export function daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OTUS_NODE_IP: '127.0.0.1', ...extra };
  // The test runner's own variables must not reach the daemon's node.
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

/** Starts `otus daemon` and resolves once it says it is running (its restore done). */
export async function startDaemon(
  s: DaemonSetup,
  o: { env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number; /** A command that execs the daemon, e.g. ip netns exec NS. */ prefix?: string[] } = {},
): Promise<DaemonHandle> {
  const argv = [...(o.prefix ?? []), OTUS, 'daemon', '--config', s.configFile, ...(o.args ?? [])];
  const proc = spawn(argv[0]!, argv.slice(1), { env: daemonEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  let dead = false;
  void exited.then(() => (dead = true));
  const h: DaemonHandle = {
    ...s,
    metricsUrl: `http://127.0.0.1:${s.port}`,
    proc,
    output: () => out,
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    stop: async (ms = 20_000) => {
      if (!dead) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  const end = Date.now() + (o.timeoutMs ?? 20_000);
  for (;;) {
    if (dead) throw new Error(`the daemon exited during start:\n${out}`);
    try {
      const r = await call(s.socket, 'daemon_status');
      if ((r.result as { state?: string } | undefined)?.state === 'running') return h;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`the daemon did not answer within the time limit:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(OTUS, args, { env: daemonEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function scrape(h: DaemonHandle, path = '/metrics'): Promise<{ status: number; body: string }> {
  const r = await fetch(h.metricsUrl + path);
  return { status: r.status, body: await r.text() };
}

/** The value of one sample in a Prometheus text exposition, or null. */
export function sample(body: string, series: string): number | null {
  for (const line of body.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return null;
}

/** The sample's packets, one record each. */
export function readPcap(file: string): PcapRecord[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  const out: PcapRecord[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = b.readUInt32LE(o + 8);
    out.push({ tsSec: b.readUInt32LE(o), tsNsec: b.readUInt32LE(o + 4) * (nano ? 1 : 1000), origLen: b.readUInt32LE(o + 12), data: b.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}

/** A capture made of `copies` back-to-back repetitions of the sample, time-shifted so it stays in order. */
export function writeLongCapture(path: string, copies: number): number {
  const base = readPcap(SAMPLE);
  const span = base.at(-1)!.tsSec - base[0]!.tsSec + 1;
  const recs: PcapRecord[] = [];
  for (let c = 0; c < copies; c++) for (const r of base) recs.push({ ...r, tsSec: r.tsSec + c * span });
  writeFileSync(path, pcapBytes(recs, 1, true));
  return recs.length;
}

/**
 * Stops a daemon whose task writes into a paused SlowConsumer: the stop is
 * asked first (so the task cannot complete on its own meanwhile), then the
 * consumer drains, so the reporters can flush and the stop can finish.
 */
export async function stopDraining(d: DaemonHandle, reader: { drain(): void } | null): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const stopping = d.stop();
  setTimeout(() => reader?.drain(), 200);
  return stopping;
}

/** A task object over `file` writing JSON lines to `out`. */
export function fileTask(id: string, file: string, out: string, extra: Tree = {}): Tree {
  return { id, workers: 1, capture: { name: 'pcap', file }, parsers: [], reporters: [{ name: 'file', config: { path: out } }], unmatched_policy: 'forward', ...extra };
}

export async function taskStatus(socket: string, id: string): Promise<Record<string, unknown> & { state: string; restart_count: number; counters: Record<string, unknown> | null }> {
  const r = await call(socket, 'task_status', { id });
  if (r.error) throw new Error(`task_status ${id}: ${r.error.message}`);
  return r.result as never;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
