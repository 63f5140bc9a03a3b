// What the end-to-end tests share: where the project and its generated call
// captures are, (re)generating those captures once even when several test
// files ask at the same time, and running `bin/otus run` as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'scripts'))) return d;
    const up = dirname(d);
    if (up === d) throw new Error('e2e: cannot find the project root');
    d = up;
  }
}

export const ROOT = findRoot();
export const CALL_CAPTURES = join(ROOT, 'test', 'captures', 'generated-calls');
export const SAMPLE = join(ROOT, 'samples', 'sip-call.pcap');
export const OTUS = join(ROOT, 'bin', 'otus');
const GENERATORS = [join(ROOT, 'scripts', 'gen-call-captures.sh'), join(ROOT, 'scripts', 'gen-call-captures.py')];

/**
 * A global config with VXLAN decapsulation on (the call-vxlan case needs it)
 * and room for more workers than this machine has cores (--workers is capped
 * by max_workers, which defaults to the number of cores).
 */
export const VXLAN_CONFIG = `otus:
  resources:
    max_workers: 8
  core:
    decoder:
      tunnel: { vxlan: true }
`;

export function tsharkAvailable(): boolean {
  const r = spawnSync('tshark', ['-v'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function upToDate(): boolean {
  const m = join(CALL_CAPTURES, 'MANIFEST.txt');
  if (!existsSync(m)) return false;
  const t = statSync(m).mtimeMs;
  return GENERATORS.every((g) => statSync(g).mtimeMs <= t);
}

/**
 * Makes sure test/captures/generated-calls holds the captures of
 * scripts/gen-call-captures.sh, regenerating them when missing or older than
 * the generators. Test files run in parallel: a lock directory lets one
 * generate (into a temporary directory, renamed when complete) while the
 * others wait for it.
 */
export function ensureCallCaptures(): string {
  if (upToDate()) return CALL_CAPTURES;
  const lock = CALL_CAPTURES + '.lock';
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // someone else is generating; a lock older than 3 minutes is a crashed run
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      if (upToDate()) return CALL_CAPTURES;
      if (Date.now() > deadline) throw new Error(`e2e: timed out waiting for ${lock} (another test generating the captures?)`);
      sleepMs(200);
    }
  }
  try {
    if (upToDate()) return CALL_CAPTURES;
    const tmp = `${CALL_CAPTURES}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const r = spawnSync('bash', [GENERATORS[0]!, tmp], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (r.error || r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(
        `e2e: capture generation failed (${GENERATORS[0]} ${tmp}; needs root, tcpdump, sipp and Debian's python3-scapy, ` +
          `see scripts/setup.sh): ${r.error ? String(r.error) : `exit ${r.status}`}\n${r.stderr}`,
      );
    }
    rmSync(CALL_CAPTURES, { recursive: true, force: true });
    renameSync(tmp, CALL_CAPTURES);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return CALL_CAPTURES;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => resolve({ code: -1, stdout: '', stderr: String(e) }));
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

export async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** One Otus record as the file reporter writes it (the fields the tests read). */
export interface OtusRecord {
  frame: number;
  protocol: string;
  flow: { src_ip: string; dst_ip: string; src_port: number; dst_port: number; proto: number };
  labels: Record<string, string>;
  payload: Record<string, unknown> | null;
}

export interface OtusRun {
  code: number | null;
  stderr: string;
  /** The JSON lines of the output file, unparsed (to compare runs exactly). */
  lines: string[];
  records: OtusRecord[];
  /** The --stats-json summary (the last line of stderr that parses as JSON), or null. */
  summary: Summary | null;
}

/** The parts of TaskSummary (src/pipeline/task-runner.ts) the tests check. */
export interface Summary {
  workers: number;
  capture: { packets: number; bytes: number; kernelDrops: number; channelDrops: number };
  pipelines: {
    counters: Record<string, number>;
    decodeErrors: Record<string, number>;
    decoder: Record<string, number>;
    parsed: Record<string, number>;
    parserStats: Record<string, Record<string, number>>;
  };
  sender: { name: string; sent: number; bufferDrops: number; queued: number }[];
  reporters: { name: string; reported: number; timeoutDrops: number; errorDrops: number }[];
  error: string | null;
}

/**
 * `bin/otus run ... --format json --out OUT --stats-json` (plus `extra`), and
 * what it wrote. `out` must be a fresh path.
 */
export async function runOtus(extra: string[], out: string, timeoutMs = 60_000): Promise<OtusRun> {
  const r = await run(OTUS, ['run', ...extra, '--format', 'json', '--out', out, '--stats-json', '--no-progress'], timeoutMs);
  const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
  const records = lines.map((l) => JSON.parse(l) as OtusRecord);
  let summary: Summary | null = null;
  for (const l of r.stderr.split('\n').reverse()) {
    if (!l.startsWith('{')) continue;
    try {
      summary = JSON.parse(l) as Summary;
      break;
    } catch {
      // not the summary line
    }
  }
  return { code: r.code, stderr: r.stderr, lines, records, summary };
}

/** The first lines of a process's stderr, enough to say what went wrong. */
export function clip(s: string, lines = 12): string {
  const l = s.split('\n').filter((x) => x.trim() !== '');
  return l.slice(0, lines).join('\n') + (l.length > lines ? `\n... (${l.length - lines} more lines)` : '');
}
