// Runs `otus run` live inside a test namespace, for the binding-mode tests:
// starts it, waits until its packet sockets exist, lets the test send
// traffic, interrupts it with SIGINT as a person would, and returns what it
// printed (records on stdout, the JSON summary on stderr).
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const WORKER_LABEL = join(ROOT, 'dist/test/capture/worker-label.js');

export interface LiveRecord {
  protocol: string;
  flow: { src_ip: string; dst_ip: string; src_port: number; dst_port: number; proto: number };
  net: { vlans: number[]; tunnel: unknown; fragmented: boolean };
  labels: Record<string, string>;
}

export interface LiveResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  records: LiveRecord[];
  /** The --stats-json summary, when the run printed one. */
  summary: {
    workers: number;
    dispatchMode?: string;
    capture: { packets: number; kernelDrops: number; kernelFreezes: number; kernelPackets?: number };
    pipelines: { perWorker: { index: number; received: number }[] };
  } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Packet sockets open in namespace `ns` (lines of /proc/net/packet). */
async function packetSockets(ns: string): Promise<number> {
  const { stdout } = await execFileP('ip', ['netns', 'exec', ns, 'cat', '/proc/net/packet'], { encoding: 'utf8' });
  return stdout.trim().split('\n').length - 1;
}

export function parseRecords(text: string): LiveRecord[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LiveRecord);
}

/**
 * `otus run ARGS` in `ns` (with the test-worker-label processor loadable),
 * interrupted once `during` has finished and `settleMs` more have passed.
 * `during` starts when otus says it is capturing and at least `sockets`
 * packet sockets exist in the namespace (otus's own plus, say, a tcpdump).
 * If the process ends by itself first (an error), `during` is not run.
 */
export async function runLive(ns: string, args: string[], sockets: number, during: (pid: number) => Promise<void>, settleMs = 300): Promise<LiveResult> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', WORKER_LABEL, MAIN, 'run', '--no-progress', '--stats-json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let ended = false;
  void exited.then(() => (ended = true));
  try {
    const until = Date.now() + 15_000;
    while (!ended && (!/^otus: capturing on /m.test(stderr) || (await packetSockets(ns)) < sockets)) {
      if (Date.now() > until) throw new Error(`otus did not open ${sockets} packet sockets in 15 s; stderr: ${stderr}`);
      await sleep(50);
    }
    if (!ended) {
      await during(child.pid!);
      await sleep(settleMs);
      // ip netns exec execs the command: the child's pid is otus itself.
      child.kill('SIGINT');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    const lastLine = stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    return { code, signal, stdout, stderr, records: parseRecords(stdout), summary: lastLine ? JSON.parse(lastLine) : null };
  } finally {
    if (!ended) child.kill('SIGKILL');
  }
}

/** Records of the offline run of `file`, as `otus run --pcap F --format json` prints them. */
export async function offlineRecords(file: string, extra: string[] = []): Promise<LiveRecord[]> {
  const { stdout } = await execFileP(process.execPath, [MAIN, 'run', '--pcap', file, '--format', 'json', '--no-progress', ...extra], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  return parseRecords(stdout);
}

/** What must match between a live and an offline record: protocol, flow and labels (not times, frame numbers or the worker). */
export function recordKey(r: LiveRecord): string {
  const labels = Object.entries(r.labels)
    .filter(([k]) => k !== 'test.worker')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const f = r.flow;
  return JSON.stringify([r.protocol, f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.proto, r.net.vlans, r.net.tunnel, labels]);
}

/** Multiset difference a - b, as "key xN" lines (empty when a is contained in b). */
export function missingFrom(a: LiveRecord[], b: LiveRecord[]): string[] {
  const count = new Map<string, number>();
  for (const r of b) count.set(recordKey(r), (count.get(recordKey(r)) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const r of a) {
    const k = recordKey(r);
    const n = count.get(k) ?? 0;
    if (n > 0) count.set(k, n - 1);
    else out.set(k, (out.get(k) ?? 0) + 1);
  }
  return [...out].map(([k, n]) => `${k} x${n}`);
}

/** The classic-pcap Ethernet captures among the generated test captures (tcpreplay sends frames as they are). */
export function ethernetTestCaptures(): string[] {
  const dir = join(ROOT, 'test/captures/generated');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => join(dir, f))
    .filter((f) => {
      const b = readFileSync(f);
      const magic = b.readUInt32LE(0);
      const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
      return (le ? b.readUInt32LE(20) : b.readUInt32BE(20)) === 1;
    })
    .sort();
}
