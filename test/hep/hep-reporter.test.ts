// The HEP v3 reporter over UDP and TCP: a task over the sample capture sends
// HEP to a collector on loopback. What went on the wire is captured with
// tcpdump and read back with tshark; each HEP packet must carry the
// addresses, ports, timestamp, protocol type and payload tshark reports for
// the original frame. This tshark (4.0) has no HEP dissector, so the HEP
// chunks are split by the small reader below; where tshark knows "hep" the
// test also has tshark decode the packets itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/kafka-broker.ts';
import { until } from '../helpers/until.ts';
import { readPcapFrames } from '../capture/afpacket-frames.ts';
import type { OutputRecord } from '../../src/core/record.ts';
import { HepReporter } from '../../src/plugins/reporter/hep/hep-reporter.ts';
import { packet } from '../processors/output-packets.ts';

const run = promisify(execFile);
const OTUS = join(ROOT, 'bin/otus');
const SAMPLE = join(ROOT, 'samples/sip-call.pcap');

interface Hep {
  family: number;
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  sec: number;
  usec: number;
  type: number;
  captureId: number;
  payload: Buffer;
  correlation: string;
  node: string;
}

function ip(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16));
  return g.join(':');
}

/** Splits a stream (or one datagram) into HEP3 packets and reads their chunks. */
function readHep(buf: Buffer): Hep[] {
  const out: Hep[] = [];
  let o = 0;
  while (o + 6 <= buf.length) {
    assert.equal(buf.toString('latin1', o, o + 4), 'HEP3', `HEP3 magic at ${o}`);
    const total = buf.readUInt16BE(o + 4);
    const h = { correlation: '', node: '' } as Hep;
    let c = o + 6;
    while (c < o + total) {
      assert.equal(buf.readUInt16BE(c), 0, 'generic vendor');
      const type = buf.readUInt16BE(c + 2);
      const len = buf.readUInt16BE(c + 4);
      const v = buf.subarray(c + 6, c + len);
      switch (type) {
        case 1: h.family = v[0]!; break;
        case 2: h.proto = v[0]!; break;
        case 3: case 5: h.src = ip(v); break;
        case 4: case 6: h.dst = ip(v); break;
        case 7: h.sport = v.readUInt16BE(0); break;
        case 8: h.dport = v.readUInt16BE(0); break;
        case 9: h.sec = v.readUInt32BE(0); break;
        case 10: h.usec = v.readUInt32BE(0); break;
        case 11: h.type = v[0]!; break;
        case 12: h.captureId = v.readUInt32BE(0); break;
        case 15: h.payload = Buffer.from(v); break;
        case 17: h.correlation = v.toString(); break;
        case 19: h.node = v.toString(); break;
      }
      c += len;
    }
    assert.equal(c, o + total, 'chunks fill the packet exactly');
    out.push(h);
    o += total;
  }
  assert.equal(o, buf.length, 'no trailing bytes');
  return out;
}

interface Frame {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  sec: number;
  usec: number;
  payload: string;
}

async function sampleFrames(): Promise<Map<number, Frame>> {
  const { stdout } = await run('tshark', ['-r', SAMPLE, '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'frame.time_epoch', '-e', 'udp.payload'], { maxBuffer: 64 << 20 });
  const m = new Map<number, Frame>();
  for (const l of stdout.trim().split('\n')) {
    const [n, src, dst, sp, dp, t, pl] = l.split('\t');
    const [s, frac = '0'] = t!.split('.');
    m.set(Number(n), { src: src!, dst: dst!, sport: Number(sp), dport: Number(dp), sec: Number(s), usec: Number(frac.padEnd(9, '0').slice(0, 6)), payload: (pl ?? '').replace(/:/g, '') });
  }
  return m;
}

async function runTask(dir: string, name: string, hep: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  const out = join(dir, `${name}.jsonl`);
  const task = join(dir, `${name}.json`);
  writeFileSync(task, JSON.stringify({
    id: name, workers: 2, capture: { name: 'pcap', file: SAMPLE },
    parsers: [{ name: 'sip' }, { name: 'rtcp' }, { name: 'rtp' }, { name: 'dns' }],
    reporters: [{ name: 'file', config: { path: out } }, { name: 'hep', config: hep }],
  }));
  const cfg = join(dir, 'config.yml');
  writeFileSync(cfg, 'otus:\n  node: { hostname: hep-node, ip: 127.0.0.1 }\n');
  await run(OTUS, ['run', '--config', cfg, '--task', task, '--no-progress'], { timeout: 120_000 });
  return readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Each HEP packet matches its record's original frame, as tshark decodes that frame. */
function checkAgainstSample(heps: Hep[], records: Record<string, unknown>[], frames: Map<number, Frame>): void {
  const wanted = records.filter((r) => ['sip', 'rtcp', 'dns'].includes(r['protocol'] as string));
  assert.equal(heps.length, wanted.length, 'one HEP packet per SIP, RTCP and DNS record');
  const key = (src: string, sport: number, sec: number, usec: number) => `${src}:${sport}@${sec}.${usec}`;
  const byKey = new Map(heps.map((h) => [key(h.src, h.sport, h.sec, h.usec), h]));
  const typeOf: Record<string, number> = { sip: 1, rtcp: 5, dns: 53 };
  for (const r of wanted) {
    const f = frames.get(r['frame'] as number)!;
    const h = byKey.get(key(f.src, f.sport, f.sec, f.usec));
    assert.ok(h, `a HEP packet for frame ${String(r['frame'])} (${f.src}:${f.sport} at ${f.sec}.${f.usec})`);
    assert.equal(h.family, 2);
    assert.equal(h.proto, 17);
    assert.equal(h.dst, f.dst);
    assert.equal(h.dport, f.dport);
    assert.equal(h.type, typeOf[r['protocol'] as string]);
    assert.equal(h.captureId, 2001);
    assert.equal(h.node, 'hep-node');
    if (r['protocol'] === 'sip') {
      assert.equal(h.payload.toString('hex'), f.payload, 'SIP payload = the UDP payload of the frame');
      assert.equal(h.correlation, (r['labels'] as Record<string, string>)['sip.call-id']);
    } else {
      assert.deepEqual(JSON.parse(h.payload.toString()), r['payload'], `${String(r['protocol'])} payload = its JSON form`);
    }
  }
}

async function tsharkKnowsHep(): Promise<boolean> {
  const { stdout } = await run('tshark', ['-G', 'protocols'], { maxBuffer: 64 << 20 });
  return stdout.split('\n').some((l) => l.split('\t')[2] === 'hep');
}

test('HEP over UDP: each datagram the collector gets carries its record as tshark saw its frame; those tcpdump caught read back in tshark', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-hep-'));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const received: Buffer[] = [];
  sock.on('message', (m) => received.push(m));
  const pcap = join(dir, 'hep.pcap');
  const dump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-w', pcap, 'udp', 'port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      dump.stderr.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve());
      dump.once('exit', (c) => reject(new Error(`tcpdump exited (${c})`)));
    });
    const records = await runTask(dir, 'hep-udp', { address: `127.0.0.1:${port}`, transport: 'udp', capture_id: 2001 });
    // One datagram per SIP, RTCP and DNS record: wait until the collector got them, and give tcpdump
    // time to write them. (Under load tcpdump has lost some of them for good, while the collector got
    // every one: the collector's datagrams are checked in full, tcpdump's as a sample of the wire.)
    const expected = records.filter((r) => ['sip', 'rtcp', 'dns'].includes(r['protocol'] as string)).length;
    await until(() => received.length >= expected, 30_000, `${expected} HEP datagrams at the collector`);
    await until(() => readPcapFrames(pcap).length >= received.length, 5_000, 'tcpdump').catch(() => {});
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('exit', r));

    // Every record's HEP packet, as the collector received it.
    checkAgainstSample(received.flatMap((d) => readHep(d)), records, await sampleFrames());
    // What tcpdump caught of the same datagrams, read back by tshark: sent to the collector, byte for byte one of them.
    const { stdout } = await run('tshark', ['-r', pcap, '-T', 'fields', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'udp.payload'], { maxBuffer: 64 << 20 });
    const wire = stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.ok(wire.length > 0 && wire.length <= received.length, `tshark reads ${wire.length} of the ${received.length} datagrams the collector got`);
    const sent = new Set(received.map((d) => d.toString('hex')));
    for (const [dst, dport, payload] of wire) {
      assert.deepEqual([dst, Number(dport)], ['127.0.0.1', port]);
      assert.ok(sent.has(payload!.replace(/:/g, '')), 'a datagram on the wire is one the collector got');
    }
    const heps = wire.flatMap((w) => readHep(Buffer.from(w[2]!.replace(/:/g, ''), 'hex')));

    if (await tsharkKnowsHep()) {
      const d = await run('tshark', ['-r', pcap, '-d', `udp.port==${port},hep`, '-T', 'fields', '-e', 'hep.src_ip', '-e', 'hep.protocol_type'], { maxBuffer: 64 << 20 });
      assert.equal(d.stdout.trim().split('\n').length, heps.length);
    }
  } finally {
    dump.kill('SIGKILL');
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HEP over TCP: a stream of HEP3 packets, the same content', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-hep-'));
  const chunks: Buffer[] = [];
  let closed!: () => void;
  const streamClosed = new Promise<void>((r) => (closed = r));
  const server = net.createServer((s) => {
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => closed());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const records = await runTask(dir, 'hep-tcp', { address: `127.0.0.1:${port}`, transport: 'tcp', capture_id: 2001 });
    await streamClosed; // the reporter ends its stream on stop
    checkAgainstSample(readHep(Buffer.concat(chunks)), records, await sampleFrames());
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a collector that is not there costs counted drops, not the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-hep-'));
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r)); // nothing listens there now
  try {
    const task = join(dir, 't.json');
    writeFileSync(task, JSON.stringify({ id: 'hep-down', workers: 1, capture: { name: 'pcap', file: SAMPLE }, parsers: [{ name: 'sip' }], reporters: [{ name: 'hep', config: { address: `127.0.0.1:${port}`, transport: 'tcp', send_timeout: '1s' } }] }));
    const r = await run(OTUS, ['run', '--task', task, '--no-progress', '--stats-json'], { timeout: 60_000 });
    const summary = JSON.parse(r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as { reporters: { name: string; reported: number; errorDrops: number }[] };
    const hep = summary.reporters.find((x) => x.name === 'hep')!;
    assert.equal(hep.reported, 0);
    assert.equal(hep.errorDrops, 6, 'the 6 SIP messages are counted as dropped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record too long for HEP3 (16-bit lengths) is dropped and counted; the rest of its batch goes', async () => {
  const sink = dgram.createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const got: Buffer[] = [];
  sink.on('message', (m) => got.push(m));
  const warnings: string[] = [];
  const rep = new HepReporter();
  rep.init(
    { address: `127.0.0.1:${(sink.address() as net.AddressInfo).port}` },
    { taskId: 't', workerIndex: -1, agent: 'node-a', log: (_l, msg) => warnings.push(msg) },
  );
  await rep.start();
  // A hand-made record (test/processors/output-packets.ts) with the binary payload HEP sends.
  const record = (protocol: string, payload: Uint8Array): OutputRecord => ({ ...packet(protocol, { 'sip.call-id': 'big@test' }), payloadBinary: payload });
  const small = new TextEncoder().encode('OPTIONS sip:b@x SIP/2.0\r\nContent-Length: 0\r\n\r\n');
  const huge = new Uint8Array(70_000).fill(0x61); // a SIP message reassembled from TCP can be this long
  try {
    await rep.report([record('sip', huge), record('sip', small), record('http', small)]);
    const until = Date.now() + 5000;
    while (got.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 1, 'the small SIP record reaches the collector');
    assert.equal(readHep(got[0]!)[0]!.payload.toString(), new TextDecoder().decode(small));
    const st = rep.stats();
    assert.equal(st.reported, 1);
    assert.equal(st.oversizeDrops, 1);
    assert.equal(st.errorDrops, 1, 'an oversize record is a drop');
    assert.equal(st.skipped, 1, 'http has no HEP mapping: skipped, not dropped');
    assert.match(warnings.join('\n'), /does not fit a HEP packet/);
  } finally {
    await rep.stop();
    sink.close();
  }
});
