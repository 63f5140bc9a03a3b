// Differential test of the L2-L4 decoder against tshark (the decoding oracle).
//
// For every capture written by scripts/gen-test-captures.py (regenerated into
// test/captures/generated/ when missing or older than the script), Otus runs
// the capture with every tunnel decapsulation on and `unmatched_policy:
// forward` (one `raw` record per decoded packet), tshark dissects the same
// file with IP defragmentation on, and each frame's record is compared with
// what tshark shows: innermost 5-tuple, IP version, TTL, VLAN ids, tunnel
// (type, outermost addresses, VNI / GRE key / ERSPAN session id), whether the
// packet was reassembled, timestamp and the L4 payload (length, bytes,
// truncation). Frames that tshark shows as IP fragments still waiting for
// their datagram must have no record; the frame that completes a datagram
// must have the datagram's record.
//
// How tshark's output is read: `-T fields` gives, per frame, every occurrence
// of a field in dissection order. `frame.protocols` ("eth:ethertype:ip:udp:
// vxlan:eth:ethertype:ip:udp:data") gives the layer order, and walking it
// maps each occurrence of ip.*, ipv6.*, udp.*, tcp.*... to its layer:
//   - the IP layers are the `ip` / `ipv6` tokens up to an ICMP layer (IP
//     headers quoted inside an ICMP error are not layers); the innermost one
//     gives the flow addresses, version and TTL, the outermost one the tunnel
//     endpoints;
//   - the tunnel type is the encapsulation between the first two IP layers
//     (vxlan, geneve, gre, gre+erspan -> erspan, none -> ipip);
//   - the L4 is the udp / tcp / icmp / icmpv6 token after the innermost IP.
// Payload length: UDP udp.length - 8, TCP tcp.len, ICMP/ICMPv6 the IP payload
// minus the 8-byte ICMP header (what tshark shows as data.len for an echo);
// when the frame was cut (frame.cap_len < frame.len, never with a trailer in
// these captures) the bytes cut are taken off the end of the payload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectedFromTshark, tsharkArgs, type Expected, type ExpectedTunnel } from './tshark-oracle.ts';

// ---------------------------------------------------------------------------
// Locations

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'scripts'))) return d;
    const up = dirname(d);
    if (up === d) throw new Error('tshark-diff: cannot find the project root');
    d = up;
  }
}

const ROOT = findRoot();
const GENERATOR = join(ROOT, 'scripts', 'gen-test-captures.py');
const CAPTURES = join(ROOT, 'test', 'captures', 'generated');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PYTHON = '/usr/bin/python3'; // Debian's, which has python3-scapy
const CONCURRENCY = 4;

const TUNNEL_CONFIG = `otus:
  core:
    decoder:
      tunnel: { vxlan: true, geneve: true, gre: true, erspan: true, ipip: true }
`;

// ---------------------------------------------------------------------------
// Otus side

interface OtusRecord {
  ts: string;
  frame: number;
  protocol: string;
  flow: { src_ip: string; dst_ip: string; src_port: number; dst_port: number; proto: number };
  net: { ip_version: number; vlans: number[]; tunnel: ExpectedTunnel | null; fragmented: boolean; ttl: number };
  payload: { length?: number; truncated?: boolean; frame_len?: number; data?: string } | null;
}

/** "2026-01-01T00:05:00.123456789Z" -> "1767225900.123456789" (tshark's frame.time_epoch). */
function epochOf(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(ts);
  if (!m) return `unparsable(${ts})`;
  return `${Date.parse(m[1] + 'Z') / 1000}.${m[2]}`;
}

// ---------------------------------------------------------------------------
// Processes

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
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

async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
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

/** The first lines of a process's stderr, enough to say what went wrong. */
function clip(s: string, lines = 12): string {
  const l = s.split('\n').filter((x) => x.trim() !== '');
  return l.slice(0, lines).join('\n') + (l.length > lines ? `\n... (${l.length - lines} more lines)` : '');
}

function tsharkAvailable(): boolean {
  const r = spawnSync('tshark', ['-v'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Regenerates the captures when they are missing or older than the generator. */
function ensureCaptures(): void {
  const manifest = join(CAPTURES, 'MANIFEST.txt');
  if (existsSync(manifest) && statSync(manifest).mtimeMs >= statSync(GENERATOR).mtimeMs) return;
  const r = spawnSync(PYTHON, [GENERATOR, CAPTURES], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `capture generation failed (${PYTHON} ${GENERATOR} ${CAPTURES}; needs Debian's python3-scapy, see scripts/setup.sh): ` +
        `${r.error ? String(r.error) : `exit ${r.status}`}\n${r.stderr}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Comparison

interface Mismatch {
  file: string;
  frame: number;
  field: string;
  otus: unknown;
  tshark: unknown;
}

function show(x: unknown): string {
  return x === undefined ? 'undefined' : JSON.stringify(x);
}

export function formatMismatch(m: Mismatch): string {
  return `${m.file} frame ${m.frame}: ${m.field}: otus=${show(m.otus)} tshark=${show(m.tshark)}`;
}

function compareFile(file: string, expected: Expected[], records: OtusRecord[]): Mismatch[] {
  const bad: Mismatch[] = [];
  const add = (frame: number, field: string, otus: unknown, tshark: unknown) => bad.push({ file, frame, field, otus, tshark });
  const byFrame = new Map<number, OtusRecord[]>();
  for (const r of records) {
    const l = byFrame.get(r.frame) ?? [];
    l.push(r);
    byFrame.set(r.frame, l);
  }
  const frames = new Set(expected.map((e) => e.frame));
  for (const [frame, rs] of byFrame) {
    if (!frames.has(frame)) add(frame, 'record for a frame tshark does not have', rs.length, 0);
  }

  for (const e of expected) {
    const rs = byFrame.get(e.frame) ?? [];
    if (e.held || e.noIp) {
      if (rs.length) add(e.frame, e.held ? 'record for a held IP fragment' : 'record for a frame without IP', rs.length, 0);
      continue;
    }
    if (rs.length !== 1) {
      add(e.frame, 'records', rs.length, 1);
      if (!rs.length) continue;
    }
    const r = rs[0]!;
    const eq = (field: string, o: unknown, t: unknown) => {
      if (JSON.stringify(o) !== JSON.stringify(t)) add(e.frame, field, o, t);
    };
    eq('ts', epochOf(r.ts), e.ts);
    eq('protocol', r.protocol, 'raw');
    eq('flow.src_ip', r.flow?.src_ip, e.src_ip);
    eq('flow.dst_ip', r.flow?.dst_ip, e.dst_ip);
    eq('flow.src_port', r.flow?.src_port, e.src_port);
    eq('flow.dst_port', r.flow?.dst_port, e.dst_port);
    eq('flow.proto', r.flow?.proto, e.proto);
    eq('net.ip_version', r.net?.ip_version, e.ip_version);
    eq('net.ttl', r.net?.ttl, e.ttl);
    eq('net.vlans', r.net?.vlans, e.vlans);
    eq('net.fragmented', r.net?.fragmented, e.fragmented);
    const t = r.net?.tunnel ?? null;
    if (e.tunnel === null || t === null) eq('net.tunnel', t, e.tunnel);
    else {
      eq('net.tunnel.type', t.type, e.tunnel.type);
      eq('net.tunnel.outer_src_ip', t.outer_src_ip, e.tunnel.outer_src_ip);
      eq('net.tunnel.outer_dst_ip', t.outer_dst_ip, e.tunnel.outer_dst_ip);
      eq('net.tunnel.vni', t.vni, e.tunnel.vni);
    }
    if (r.protocol === 'raw' && r.payload) {
      eq('payload.length', r.payload.length, e.payload_length);
      eq('payload.truncated', r.payload.truncated, e.truncated);
      if (!e.fragmented) eq('payload.frame_len', r.payload.frame_len, e.frame_len);
      if (e.payload_hex !== null && typeof r.payload.data === 'string') {
        const hex = Buffer.from(r.payload.data, 'base64').toString('hex');
        if (hex !== e.payload_hex) {
          // report where the bytes start to differ rather than two long strings
          let k = 0;
          while (k < hex.length && hex[k] === e.payload_hex[k]) k++;
          add(e.frame, `payload.data (first difference at byte ${k >> 1})`, hex.slice(k & ~1, (k & ~1) + 32), e.payload_hex.slice(k & ~1, (k & ~1) + 32));
        }
      }
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------
// The test

interface FileResult {
  file: string;
  expected: Expected[];
  records: OtusRecord[];
  tsharkError: string | null;
  otusError: string | null;
}

/** What tshark must show for a case, from its file name (see scripts/gen-test-captures.py). */
function oracleProblems(file: string, expected: Expected[]): string[] {
  const p: string[] = [];
  const say = (frame: number, what: string) => p.push(`${file} frame ${frame}: ${what}`);
  if (!expected.length) p.push(`${file}: tshark shows no frames`);
  for (const e of expected) {
    if (e.noIp) say(e.frame, `tshark shows no IP layer (${e.protocols})`);
    if (e.held) continue;
    if (![1, 6, 17, 58].includes(e.proto)) say(e.frame, `no TCP/UDP/ICMP layer (${e.protocols})`);
    if (!Number.isFinite(e.payload_length)) say(e.frame, `payload length unknown (${e.protocols})`);
    const tunnel = /^(vxlan|geneve|gre|erspan|ipip)/.exec(file)?.[1];
    if (tunnel && e.tunnel?.type !== tunnel) say(e.frame, `expected a ${tunnel} tunnel, tshark: ${e.protocols}`);
    const vlans = file.includes('triple') ? 3 : file.includes('qinq') ? 2 : /^eth-vlan\b/.test(file) ? 1 : -1;
    if (vlans >= 0 && e.vlans.length !== vlans) say(e.frame, `expected ${vlans} VLAN tags, tshark: ${JSON.stringify(e.vlans)}`);
  }
  if (file.includes('frag')) {
    if (!expected.some((e) => e.held)) p.push(`${file}: no fragment held for reassembly`);
    if (!expected.some((e) => e.fragmented)) p.push(`${file}: no reassembled datagram`);
  }
  if (file.startsWith('truncated') && !expected.some((e) => e.truncated)) p.push(`${file}: no truncated frame`);
  return p;
}

test('decoder agrees with tshark on every generated capture', { timeout: 120_000 }, async (t) => {
  if (!tsharkAvailable()) {
    t.skip('tshark is not installed (scripts/setup.sh installs it): no oracle to compare the decoder with');
    return;
  }
  ensureCaptures();
  const files = readdirSync(CAPTURES)
    .filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng'))
    .sort();
  assert.ok(files.length >= 30, `expected the generated captures in ${CAPTURES}, found ${files.length}`);

  const tmp = mkdtempSync(join(tmpdir(), 'otus-tshark-diff-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const cfg = join(tmp, 'config.yml');
  writeFileSync(cfg, TUNNEL_CONFIG);
  const haveCli = existsSync(CLI);

  const results = await pool(files, CONCURRENCY, async (file): Promise<FileResult> => {
    const path = join(CAPTURES, file);
    const out = join(tmp, file + '.jsonl');
    const [ts, ot] = await Promise.all([
      run('tshark', tsharkArgs(path)),
      haveCli
        ? run(process.execPath, [
            '--enable-source-maps', CLI, 'run', '--pcap', path, '--config', cfg, '--format', 'json', '--out', out,
            '--workers', '2', '--no-progress',
          ])
        : Promise.resolve({ code: -1, stdout: '', stderr: `${CLI} is missing: build the CLI first (npm run build)` }),
    ]);
    const r: FileResult = { file, expected: [], records: [], tsharkError: null, otusError: null };
    if (ts.code !== 0) r.tsharkError = `tshark failed (exit ${ts.code}): ${clip(ts.stderr)}`;
    else r.expected = ts.stdout.split('\n').filter((l) => l.trim() !== '').map(expectedFromTshark);
    if (ot.code !== 0) {
      r.otusError = `otus run failed (exit ${ot.code}): ${clip(ot.stderr)}`;
      return r;
    }
    const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        r.records.push(JSON.parse(line) as OtusRecord);
      } catch {
        r.otusError = `otus wrote a line that is not JSON: ${line.slice(0, 200)}`;
        break;
      }
    }
    return r;
  });

  // The oracle first: tshark must see each case as the generator meant it,
  // or the comparison below would test the wrong thing.
  await t.test('tshark decodes the generated captures as intended', () => {
    const problems: string[] = [];
    for (const r of results) {
      if (r.tsharkError !== null) {
        problems.push(`${r.file}: ${r.tsharkError}`);
        continue;
      }
      problems.push(...oracleProblems(r.file, r.expected));
    }
    assert.deepEqual(problems, []);
  });

  const all: string[] = [];
  for (const r of results) {
    await t.test(r.file, () => {
      if (r.tsharkError !== null) assert.fail(`${r.file}: ${r.tsharkError}`);
      if (r.otusError !== null) assert.fail(`${r.file}: ${r.otusError}`);
      const mism = compareFile(r.file, r.expected, r.records);
      const complete = r.expected.filter((e) => !e.held && !e.noIp).length;
      if (r.records.length !== complete) {
        mism.push({ file: r.file, frame: 0, field: 'record count (complete packets)', otus: r.records.length, tshark: complete });
      }
      const lines = mism.map(formatMismatch);
      all.push(...lines);
      assert.deepEqual(lines, [], `${lines.length} mismatch(es) with tshark:\n  ${lines.join('\n  ')}`);
    });
  }
  if (all.length) t.diagnostic(`${all.length} mismatch(es) in total`);
});
