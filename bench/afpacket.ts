// Live capture on a veth pair (needs root): the highest rate tcpreplay
// offers at which a consumer records no kernel drop, for `tcpdump -w
// /dev/null` and for `otus run --interface` with 1 and 2 workers (binding
// mode: one AF_PACKET socket per worker in a fan-out group), and the CPU
// seconds each consumer spends per million packets. All in one run, on one
// veth pair, with the same frames. Method and figures: BENCHMARKS.md, live capture section.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow, BenchSection } from './report.ts';
import { netnsSkipReason, nsExec, withVethPair, type VethPair } from '../test/helpers/netns.ts';
import { writePcap } from '../test/helpers/pcap-writer.ts';
import { ipv4Frame } from '../test/capture/afpacket-frames.ts';
import { runLive } from '../test/capture/live-run.ts';

const PACKETS = 200_000;
/** Packets/s offered; 0 = tcpreplay --topspeed (file preloaded into memory, -K: the fastest one sender goes). */
const RATES = [100_000, 200_000, 0];
const FLOWS = 256;
const CLK_TCK = 100; // USER_HZ on Linux

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

interface Step {
  offered: number;
  achieved: number;
  captured: number;
  drops: number;
  cpu: number;
}

async function replay(p: VethPair, file: string, rate: number): Promise<number> {
  const timing = rate > 0 ? [`--pps=${rate}`] : ['-t', '-K'];
  const { stdout } = await nsExec(p.nsA, 'tcpreplay', [...timing, '-i', p.ifA, file]);
  const m = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(stdout);
  return m ? Number(m[1]) : NaN;
}

async function otusStep(p: VethPair, file: string, taskFile: string, workers: number, rate: number): Promise<Step> {
  let cpu = 0;
  let achieved = 0;
  const live = await runLive(p.nsB, ['--task', taskFile, '--workers', String(workers)], workers, async (pid) => {
    const c0 = cpuSeconds(pid);
    achieved = await replay(p, file, rate);
    await sleep(100); // the last block is handed over after block_timeout_ms
    cpu = cpuSeconds(pid) - c0;
  }, 0);
  if (live.code !== 0 || !live.summary) throw new Error(`otus run failed: ${live.stderr}`);
  const c = live.summary.capture;
  return { offered: rate, achieved, captured: c.packets, drops: c.kernelDrops, cpu };
}

async function tcpdumpStep(p: VethPair, file: string, rate: number): Promise<Step> {
  const td = spawn('ip', ['netns', 'exec', p.nsB, 'tcpdump', '-i', p.ifB, '-n', '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  td.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => td.once('exit', () => r()));
  try {
    while (!err.includes('listening on')) {
      if (td.exitCode !== null) throw new Error(`tcpdump failed: ${err}`);
      await sleep(20);
    }
    const c0 = cpuSeconds(td.pid!);
    const achieved = await replay(p, file, rate);
    await sleep(1100); // tcpdump's ring hands a block over after its 1 s timeout
    const cpu = cpuSeconds(td.pid!) - c0;
    td.kill('SIGINT');
    await exited;
    const captured = Number(/(\d+) packets captured/.exec(err)?.[1] ?? NaN);
    const drops = Number(/(\d+) packets dropped by kernel/.exec(err)?.[1] ?? NaN);
    return { offered: rate, achieved, captured, drops, cpu };
  } finally {
    if (td.exitCode === null) td.kill('SIGKILL');
  }
}

function summarise(name: string, steps: Step[], rows: BenchRow[]): void {
  const clean = steps.filter((s) => s.drops === 0 && s.captured >= PACKETS);
  const best = clean.reduce<Step | null>((a, s) => (a === null || s.achieved > a.achieved ? s : a), null);
  const detail = steps
    .map((s) => `${s.offered ? `${s.offered / 1000}k` : 'top'}: ${Math.round(s.achieved / 1000)}k pps, ${s.drops} drops`)
    .join('; ');
  const ceiling = steps.every((s) => s.drops === 0) ? ' (no drop at any rate offered: bounded by the sender)' : '';
  rows.push({ name: `${name}: highest rate with 0 kernel drops`, value: best ? best.achieved : 0, unit: 'pkt/s', note: detail + ceiling });
  const cpuPerM = steps.filter((s) => s.captured > 0).map((s) => (s.cpu / s.captured) * 1e6);
  const packets = steps.reduce((a, s) => a + s.captured, 0);
  const median = cpuPerM.sort((a, b) => a - b)[Math.floor(cpuPerM.length / 2)] ?? NaN;
  rows.push({
    name: `${name}: CPU per million packets`,
    value: median,
    unit: 's/Mpkt',
    note: `median over the steps; per step ${cpuPerM.map((x) => x.toFixed(2)).join(', ')}; ${packets} packets captured in all`,
  });
}

export async function run(): Promise<BenchSection> {
  const title = 'Live capture on a veth pair (AF_PACKET, binding mode)';
  const why = netnsSkipReason('tcpreplay', 'tcpdump');
  if (why) return { title, rows: [], skipped: [why] };
  const work = mkdtempSync(join(tmpdir(), 'otus-bench-afp-'));
  try {
    // Short UDP datagrams over many flows (so that 2 workers share them):
    // what a busy SIP/RTP edge sees, packet by packet. No parser claims them
    // and unmatched_policy is drop: this measures capture, decode and routing.
    const frames = [];
    for (let i = 0; i < PACKETS; i++) {
      const f = i % FLOWS;
      frames.push({ data: ipv4Frame({ src: `10.9.${f >> 8}.${f & 255}`, dst: '10.8.0.1', sport: 20000 + f, dport: 30000, payload: Buffer.alloc(60, i) }), tsSec: 1_700_000_000, tsNsec: i * 1000 });
    }
    const file = join(work, 'udp.pcap');
    writePcap(file, frames);
    const rows: BenchRow[] = [];
    await withVethPair(async (p) => {
      const taskFile = join(work, 'task.json');
      writeFileSync(
        taskFile,
        JSON.stringify({
          id: 'bench',
          capture: { name: 'afpacket', dispatch_mode: 'binding', interface: p.ifB },
          parsers: [{ name: 'sip' }, { name: 'rtcp' }, { name: 'rtp' }, { name: 'dns' }],
          reporters: [{ name: 'file', config: { path: '/dev/null' } }],
          unmatched_policy: 'drop',
        }),
      );
      const consumers: [string, (rate: number) => Promise<Step>][] = [
        ['tcpdump -w /dev/null', (r) => tcpdumpStep(p, file, r)],
        ['otus, 1 worker', (r) => otusStep(p, file, taskFile, 1, r)],
        ['otus, 2 workers', (r) => otusStep(p, file, taskFile, 2, r)],
      ];
      for (const [name, step] of consumers) {
        const steps: Step[] = [];
        for (const rate of RATES) steps.push(await step(rate));
        summarise(name, steps, rows);
      }
    });
    return { title: `${title}, ${PACKETS} UDP frames of 102 bytes, ${FLOWS} flows`, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// `node dist/bench/afpacket.js` runs this section alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatSection } = await import('./report.ts');
  console.log(formatSection(await run()));
}
