// The messages Otus frames out of reassembled TCP streams (SIP over TCP and
// WebSocket, HTTP/1.1, DNS over TCP) against tshark with its own TCP
// reassembly on, on the captures of scripts/gen-tcp-captures.py: segments out
// of order, retransmitted, overlapping, lost, and captures that start in the
// middle of long SIP/TCP and WebSocket sessions.
//
// Each message is compared by direction, frame (the frame that completed it),
// and its identity: SIP method or status, Call-ID and CSeq; HTTP method, path
// and host, or status; DNS id, name and QR. Mid-stream captures are compared
// with tshark's reading of the *full* capture, from the first message that
// starts inside the cut one (the first captured segment carries the tail of a
// message, which neither can report).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, tsharkAvailable } from '../e2e/e2e-helpers.ts';
import { createMetricsRegistry } from '../../src/observe/metrics.ts';
import type { TaskSummary } from '../../src/pipeline/task-runner.ts';

const GENERATOR = join(ROOT, 'scripts', 'gen-tcp-captures.py');
const CAPTURES = join(ROOT, 'test', 'captures', 'generated-tcp');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PYTHON = '/usr/bin/python3';

function ensureCaptures(): void {
  const stamp = join(CAPTURES, 'CUTS.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(GENERATOR).mtimeMs) return;
  const r = spawnSync(PYTHON, [GENERATOR, CAPTURES], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    throw new Error(`capture generation failed (${PYTHON} ${GENERATOR} ${CAPTURES}; needs Debian's python3-scapy): ${r.error ?? r.status}\n${r.stderr}`);
  }
}

interface Msg {
  frame: number;
  dir: string; // "srcport>dstport"
  key: string;
}

const show = (ms: Msg[]) => ms.map((m) => `#${m.frame} ${m.dir} ${m.key}`);

// ---------------------------------------------------------------- Otus

const tmp = mkdtempSync(join(tmpdir(), 'otus-tcp-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function otus(pcap: string, extraGlobal = ''): { msgs: Msg[]; records: Record<string, unknown>[]; summary: string } {
  const cfg = join(tmp, 'global.yml');
  writeFileSync(cfg, `otus:\n  core:\n    decoder:\n      tcp_reassembly:\n        enabled: true\n${extraGlobal}`);
  const task = join(tmp, 'task.yml');
  writeFileSync(
    task,
    'id: tcp-diff\nworkers: 1\ncapture: { name: pcap, config: {} }\n' +
      'parsers: [ {name: sip}, {name: rtcp}, {name: rtp}, {name: dns}, {name: http} ]\nreporters: [ {name: console} ]\n',
  );
  const out = join(tmp, 'out.json');
  rmSync(out, { force: true });
  const r = spawnSync(process.execPath, [CLI, 'run', '--pcap', pcap, '--config', cfg, '--task', task, '--format', 'json', '--out', out, '--no-progress'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `otus run failed: ${r.stderr}`);
  const records = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const msgs: Msg[] = [];
  for (const rec of records) {
    const f = rec['flow'] as { src_port: number; dst_port: number };
    const l = rec['labels'] as Record<string, string>;
    const dir = `${f.src_port}>${f.dst_port}`;
    const frame = rec['frame'] as number;
    if (rec['protocol'] === 'sip') msgs.push({ frame, dir, key: `${l['sip.method'] ?? l['sip.status']} ${l['sip.call-id']} ${l['sip.cseq']}` });
    else if (rec['protocol'] === 'http')
      msgs.push({ frame, dir, key: l['http.method'] ? `${l['http.method']} ${l['http.path']} ${l['http.host']}` : `${l['http.status']}` });
    else if (rec['protocol'] === 'dns') msgs.push({ frame, dir, key: `${l['dns.id']} ${l['dns.query']} ${l['dns.rcode'] ? 1 : 0}` });
  }
  return { msgs, records, summary: r.stderr + r.stdout };
}

// ---------------------------------------------------------------- tshark

function tshark(pcap: string, outOfOrder: boolean, filter: string, fields: string[]): string[][][] {
  const r = spawnSync(
    'tshark',
    [
      '-r', pcap,
      '-o', 'tcp.desegment_tcp_streams:TRUE',
      '-o', `tcp.reassemble_out_of_order:${outOfOrder ? 'TRUE' : 'FALSE'}`,
      '-Y', filter,
      '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t').map((v) => (v === '' ? [] : v.split('|'))));
}

/** SIP messages per frame; a frame's messages all go one way and are all requests or all responses. */
function tsharkSip(pcap: string, outOfOrder: boolean): Msg[] {
  const rows = tshark(pcap, outOfOrder, 'sip', ['frame.number', 'tcp.srcport', 'tcp.dstport', 'sip.Method', 'sip.Status-Code', 'sip.Call-ID', 'sip.CSeq']);
  const out: Msg[] = [];
  for (const [fr, sp, dp, methods, codes, ids, cseqs] of rows) {
    const kinds = methods!.length > 0 ? methods! : codes!;
    kinds.forEach((k, i) => out.push({ frame: Number(fr![0]), dir: `${sp![0]}>${dp![0]}`, key: `${k} ${ids![i]} ${cseqs![i]}` }));
  }
  return out;
}

function tsharkHttp(pcap: string): Msg[] {
  const rows = tshark(pcap, true, 'http', ['frame.number', 'tcp.srcport', 'tcp.dstport', 'http.request.method', 'http.request.uri', 'http.host', 'http.response.code']);
  const out: Msg[] = [];
  for (const [fr, sp, dp, methods, uris, hosts, codes] of rows) {
    const base = { frame: Number(fr![0]), dir: `${sp![0]}>${dp![0]}` };
    methods!.forEach((m, i) => out.push({ ...base, key: `${m} ${uris![i]!.split('?')[0]} ${hosts![i]}` }));
    codes!.forEach((c) => out.push({ ...base, key: c }));
  }
  return out;
}

function tsharkDns(pcap: string): Msg[] {
  const rows = tshark(pcap, true, 'dns', ['frame.number', 'tcp.srcport', 'tcp.dstport', 'dns.id', 'dns.qry.name', 'dns.flags.response']);
  const out: Msg[] = [];
  for (const [fr, sp, dp, ids, names, qr] of rows) {
    ids!.forEach((id, i) =>
      out.push({ frame: Number(fr![0]), dir: `${sp![0]}>${dp![0]}`, key: `${parseInt(id, 16)} ${names![i]} ${qr![i] === '1' || qr![i] === 'True' ? 1 : 0}` }),
    );
  }
  return out;
}

/** Per direction, in order: what a reader of each stream saw. */
function byDir(ms: Msg[], withFrames: boolean): Record<string, string[]> {
  const r: Record<string, string[]> = {};
  for (const m of [...ms].sort((a, b) => a.frame - b.frame)) (r[m.dir] ??= []).push(withFrames ? `#${m.frame} ${m.key}` : m.key);
  return r;
}

function rtpWithCallId(records: Record<string, unknown>[]): number {
  return records.filter((r) => r['protocol'] === 'rtp' && (r['labels'] as Record<string, string>)['call-id']).length;
}

function tsharkRtp(pcap: string, outOfOrder: boolean): number {
  return tshark(pcap, outOfOrder, 'rtp', ['frame.number']).length;
}

const skip = !tsharkAvailable() ? 'tshark is not installed' : false;

const SIP_CASES: [string, boolean, boolean][] = [
  // file, tshark's out-of-order reassembly, compare frames
  ['sip-tcp-clean', true, true],
  ['sip-tcp-ooo', true, true],
  ['sip-tcp-retrans', true, true],
  // tshark with out-of-order reassembly waits for a lost segment forever; without it, it
  // resynchronises at the next segment, as Otus does after gap_timeout (so not in the same frame).
  ['sip-tcp-loss', false, false],
  ['sip-ws', true, true],
  ['sip-tcp-long', true, true],
];

for (const [name, ooo, frames] of SIP_CASES) {
  test(`SIP over TCP/WebSocket, ${name}: the messages Otus reports equal tshark's`, { skip }, () => {
    ensureCaptures();
    const pcap = join(CAPTURES, `${name}.pcap`);
    const o = otus(pcap);
    const t = tsharkSip(pcap, ooo);
    assert.ok(t.length >= 18, `tshark saw only ${t.length} SIP messages in ${name}`);
    assert.deepEqual(byDir(o.msgs, frames), byDir(t, frames), `otus:\n${show(o.msgs).join('\n')}\ntshark:\n${show(t).join('\n')}`);
    // SDP correlation as over UDP: every RTP packet tshark ties to a call, Otus labels with its call-id.
    assert.equal(rtpWithCallId(o.records), tsharkRtp(pcap, ooo), 'RTP packets labelled with a call-id');
  });
}

for (const name of ['sip-tcp-long-mid', 'sip-ws-mid']) {
  test(`capture starting mid-session, ${name}: Otus resynchronises and reports what tshark reads in the full capture`, { skip }, () => {
    ensureCaptures();
    const cut = (JSON.parse(readFileSync(join(CAPTURES, 'CUTS.json'), 'utf8')) as Record<string, number>)[name]!;
    const full = join(CAPTURES, `${name.replace(/-mid$/, '')}.pcap`);
    const o = otus(join(CAPTURES, `${name}.pcap`));
    // Frame cut+1 of the full capture is the mid capture's frame 1 (the tail of a message): start after it.
    const t = tsharkSip(full, true)
      .filter((m) => m.frame >= cut + 2)
      .map((m) => ({ ...m, frame: m.frame - cut }));
    assert.ok(t.length >= 20, `tshark saw only ${t.length} SIP messages after the cut`);
    assert.deepEqual(byDir(o.msgs, true), byDir(t, true), `otus:\n${show(o.msgs).join('\n')}\ntshark:\n${show(t).join('\n')}`);
    assert.match(o.summary, /stream_resyncs [1-9]/, 'the framing resynchronised');
  });
}

test('per-port switch: with syn_required_ports, a WebSocket session joined mid-way is not followed', { skip }, () => {
  ensureCaptures();
  const o = otus(join(CAPTURES, 'sip-ws-mid.pcap'), '        syn_required_ports: [8088]\n');
  assert.equal(o.msgs.length, 0);
  assert.match(o.summary, /parsed +0\n/, 'no SIP (and no RTP: nothing registered it)');
  assert.doesNotMatch(o.summary, /tcp reassembly/, 'no segment went to the reassembler');
  // ...while the full session, which starts with its SYN, is followed.
  const full = otus(join(CAPTURES, 'sip-ws.pcap'), '        syn_required_ports: [8088]\n');
  assert.ok(full.msgs.length > 40);
});

test('HTTP/1.1: pipelining, chunked bodies, HEAD, 304, body until close: the messages equal tshark\'s', { skip }, () => {
  ensureCaptures();
  const pcap = join(CAPTURES, 'http.pcap');
  const o = otus(pcap);
  const t = tsharkHttp(pcap);
  assert.equal(t.length, 12);
  assert.deepEqual(byDir(o.msgs, true), byDir(t, true), `otus:\n${show(o.msgs).join('\n')}\ntshark:\n${show(t).join('\n')}`);
});

test('DNS over TCP: two-byte length framing, the messages equal tshark\'s', { skip }, () => {
  ensureCaptures();
  const pcap = join(CAPTURES, 'dns-tcp.pcap');
  const o = otus(pcap);
  const t = tsharkDns(pcap);
  assert.equal(t.length, 4);
  assert.deepEqual(byDir(o.msgs, true), byDir(t, true), `otus:\n${show(o.msgs).join('\n')}\ntshark:\n${show(t).join('\n')}`);
});

test('the reassembly counters of a real run reach the summary and the Prometheus metrics', { skip }, async () => {
  ensureCaptures();
  const cfg = join(tmp, 'metrics-global.yml');
  writeFileSync(cfg, 'otus:\n  core:\n    decoder:\n      tcp_reassembly:\n        enabled: true\n');
  const task = join(tmp, 'metrics-task.yml');
  writeFileSync(task, 'id: tcp-metrics\nworkers: 1\ncapture: { name: pcap, config: {} }\nparsers: [ {name: sip}, {name: rtp} ]\nreporters: [ {name: console} ]\n');
  const r = spawnSync(process.execPath, [CLI, 'run', '--pcap', join(CAPTURES, 'sip-tcp-ooo.pcap'), '--config', cfg, '--task', task, '--out', '/dev/null', '--stats-json', '--no-progress'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `otus run failed: ${r.stderr}`);
  const line = r.stderr.split('\n').reverse().find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON summary on stderr: ${r.stderr}`);
  const summary = JSON.parse(line) as TaskSummary;
  const d = summary.pipelines.decoder;
  assert.ok((d['tcp_segments'] ?? 0) > 0, `segments counted: ${JSON.stringify(d)}`);
  assert.ok((d['tcp_out_of_order_segments'] ?? 0) > 0, 'the out-of-order capture is counted as such');
  const text = await createMetricsRegistry({
    tasks: () => [{ id: 'tcp-metrics', state: 'running', restartCount: 0, summary }],
    lokiDropped: () => 0,
    version: 'test',
  }).metrics();
  assert.ok(text.includes(`otus_tcp_reassembly_segments_total{task="tcp-metrics"} ${d['tcp_segments']}`), text);
  assert.ok(text.includes(`otus_tcp_reassembly_out_of_order_segments_total{task="tcp-metrics"} ${d['tcp_out_of_order_segments']}`));
  assert.ok(text.includes('# TYPE otus_tcp_reassembly_active_streams gauge'));
});
