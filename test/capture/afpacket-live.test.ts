// Live capture through the afpacket capturer, in throwaway network namespaces
// joined by a veth pair: one end sends (tcpreplay or the kernel's own stack),
// the capturer listens on the other end. Needs root; skips otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { AfPacketCapturer } from '../../src/plugins/capture/afpacket/index.ts';
import type { AfPacketConfigInput } from '../../src/plugins/capture/afpacket/config.ts';
import { frameBytes, LinkType, type RawPacket } from '../../src/core/packet.ts';
import type { CaptureSink, PluginContext } from '../../src/plugin/interfaces.ts';
import { OtusError } from '../../src/core/errors.ts';
import { writePcap } from '../helpers/pcap-writer.ts';
import { inNetns, netnsSkipReason, nsExec, nsIp, withVethPair, type VethPair } from '../helpers/netns.ts';
import { arpFrame, ipv4Frame, readPcapFrames } from './afpacket-frames.ts';

const skip = netnsSkipReason('tcpreplay', 'tcpdump');
const work = mkdtempSync(join(tmpdir(), 'otus-afp-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let fileNo = 0;

const logs: string[] = [];
const ctx: PluginContext = {
  taskId: 't',
  workerIndex: -1,
  agent: 'test',
  log: (level, msg) => logs.push(`${level}: ${msg}`),
};

interface Got {
  data: Buffer;
  origLen: number;
  tsSec: number;
  tsNsec: number;
  linkType: number;
  ifIndex: number;
}

class Collector implements CaptureSink {
  readonly got: Got[] = [];
  onPacket(p: RawPacket): boolean {
    this.got.push({ data: Buffer.from(frameBytes(p)), origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, ifIndex: p.ifIndex });
    return true;
  }
  async ready(): Promise<void> {}
  /** Resolves once `n` packets arrived (or after `ms`), then lingers briefly to catch any extra. */
  async waitFor(n: number, ms = 5000): Promise<void> {
    const until = Date.now() + ms;
    while (this.got.length < n && Date.now() < until) await sleep(10);
    await sleep(80);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  cap: AfPacketCapturer;
  sink: Collector;
  done: Promise<void>;
}

function open(ns: string, cfg: AfPacketConfigInput): AfPacketCapturer {
  const cap = new AfPacketCapturer();
  inNetns(ns, () => cap.init(cfg as unknown as Record<string, unknown>, ctx));
  return cap;
}

function start(ns: string, cfg: AfPacketConfigInput): Running {
  const cap = open(ns, cfg);
  const sink = new Collector();
  const done = cap.run(sink);
  done.catch(() => {}); // observed by the tests that expect a rejection
  return { cap, sink, done };
}

async function replay(p: VethPair, frames: Buffer[], extra: string[] = []): Promise<string> {
  const file = join(work, `f${process.pid}-${fileNo++}.pcap`);
  writePcap(file, frames.map((data, i) => ({ data, tsSec: 1_700_000_000, tsNsec: i * 1000 })));
  await nsExec(p.nsA, 'tcpreplay', ['-q', '-t', ...extra, '-i', p.ifA, file]);
  return file;
}

function tcpdumpAdmits(file: string, expr: string): Buffer[] {
  const out = join(work, `td${process.pid}-${fileNo++}.pcap`);
  execFileSync('tcpdump', ['-r', file, '-w', out, expr], { stdio: 'ignore' });
  return readPcapFrames(out);
}

test('afpacket: every packet arrives with its bytes, lengths, timestamp, interface and link type', { skip }, async () => {
  await withVethPair(async (p) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++) frames.push(ipv4Frame({ sport: 1000 + i, payload: Buffer.alloc(10 + ((i * 37) % 1400), i) }));
    // Tagged frames: the kernel strips the tag into metadata, we must put it back.
    frames.push(ipv4Frame({ vlans: [100], payload: 'tagged' }));
    frames.push(ipv4Frame({ vlans: [200, 300], payload: 'qinq' }));
    const r = start(p.nsB, { interface: p.ifB });
    const before = Math.floor(Date.now() / 1000);
    await replay(p, frames);
    await r.sink.waitFor(frames.length);
    await r.cap.stop();
    await r.done;
    const ifIndex = Number(execFileSync('ip', ['-n', p.nsB, '-o', 'link', 'show', p.ifB], { encoding: 'utf8' }).split(':')[0]);
    assert.equal(r.sink.got.length, frames.length, 'every frame is delivered, nothing else');
    r.sink.got.forEach((g, i) => {
      assert.deepEqual(g.data, frames[i], `frame ${i} bytes`);
      assert.equal(g.origLen, frames[i]!.length);
      assert.equal(g.linkType, LinkType.ETHERNET);
      assert.equal(g.ifIndex, ifIndex);
      assert.ok(g.tsSec >= before - 1 && g.tsSec <= before + 30, 'live timestamp');
      assert.ok(g.tsNsec >= 0 && g.tsNsec < 1e9);
    });
    const s = r.cap.stats();
    assert.equal(s.packets, frames.length);
    assert.equal(s.bytes, frames.reduce((a, f) => a + f.length, 0));
    assert.equal(s.kernelDrops, 0);
    assert.equal(r.cap.progress(), null);
  });
});

test('afpacket: packets from the kernel stack, a filter, snaplen and promiscuous mode', { skip }, async () => {
  await withVethPair(async (p) => {
    const r = start(p.nsB, { interface: p.ifB, bpf_filter: 'udp and dst port 5000', snaplen: 64, promiscuous: true });
    const script =
      'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
      `for i in range(5): s.sendto(bytes([i]) * 200, ('${p.ipB}', 5000))\n` +
      `s.sendto(b'other port', ('${p.ipB}', 5001))\n`;
    await nsExec(p.nsA, 'python3', ['-c', script]);
    await r.sink.waitFor(5);
    await r.cap.stop();
    await r.done;
    assert.equal(r.sink.got.length, 5, 'ARP and the other port are filtered out in the kernel');
    r.sink.got.forEach((g, i) => {
      assert.equal(g.data.length, 64, 'cut at snaplen');
      assert.equal(g.origLen, 14 + 20 + 8 + 200);
      assert.equal(g.data.readUInt16BE(12), 0x0800);
      assert.equal(g.data.readUInt16BE(36), 5000);
      assert.equal(g.data[42], i);
    });
  });
});

test('afpacket: loopback delivers each packet once', { skip }, async () => {
  await withVethPair(async (p) => {
    const r = start(p.nsB, { interface: 'lo', bpf_filter: 'udp port 5999' });
    const script =
      'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' + "for i in range(4): s.sendto(bytes([i]) * 10, ('127.0.0.1', 5999))\n";
    await nsExec(p.nsB, 'python3', ['-c', script]);
    await r.sink.waitFor(8, 500);
    await r.cap.stop();
    await r.done;
    assert.equal(r.sink.got.length, 4);
    assert.equal(r.sink.got[0]!.linkType, LinkType.ETHERNET, 'Linux frames loopback with an Ethernet header');
    assert.equal(r.sink.got[0]!.origLen, 14 + 20 + 8 + 10);
  });
});

const plain = [
  ipv4Frame({ proto: 'udp', sport: 5060, dport: 5060, payload: 'sip 1' }),
  ipv4Frame({ proto: 'udp', sport: 40000, dport: 5060, payload: 'sip 2' }),
  ipv4Frame({ proto: 'udp', sport: 5060, dport: 40001, src: '10.0.0.3', dst: '10.0.0.1', payload: 'sip 3' }),
  ipv4Frame({ proto: 'udp', sport: 40000, dport: 53, payload: 'dns' }),
  ipv4Frame({ proto: 'tcp', sport: 40000, dport: 80, src: '10.0.0.1', dst: '10.0.0.9', payload: 'GET /' }),
  ipv4Frame({ proto: 'tcp', sport: 80, dport: 40000, src: '10.0.0.9', dst: '10.0.0.1', payload: 'HTTP/1.1 200' }),
  ipv4Frame({ proto: 'tcp', sport: 40000, dport: 443, src: '10.0.0.7', dst: '10.0.0.8', payload: 'tls' }),
  ipv4Frame({ proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2', payload: 'ping' }),
  arpFrame('10.0.0.1', '10.0.0.77'),
];
const tagged = [
  ipv4Frame({ vlans: [100], proto: 'udp', sport: 5060, dport: 5060, payload: 'sip tagged' }),
  ipv4Frame({ vlans: [200], proto: 'udp', sport: 40000, dport: 53, payload: 'dns tagged' }),
  ipv4Frame({ vlans: [100], proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.9', payload: 'tcp tagged' }),
  ipv4Frame({ proto: 'udp', sport: 5060, dport: 5060, payload: 'sip untagged' }),
  ipv4Frame({ proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.9', payload: 'tcp untagged' }),
  arpFrame('10.0.0.1', '10.0.0.77'),
];

// Untagged traffic: the kernel runs the program on the frame as sent.
// Tagged traffic is checked only with expressions that test the tag: on a
// live Linux interface the outer tag travels as metadata, so "udp port 5060"
// also admits tagged UDP (exactly as `tcpdump -i` does), where a file read
// with `tcpdump -r` needs "vlan and udp port 5060".
const cases: Array<[string, Buffer[]]> = [
  ['udp port 5060', plain],
  ['host 10.0.0.1 and tcp', plain],
  ['icmp or arp', plain],
  ['not udp', plain],
  ['vlan', tagged],
  ['vlan 100', tagged],
  ['vlan and udp port 5060', tagged],
  ['not vlan', tagged],
];

for (const [expr, frames] of cases) {
  test(`afpacket: filter "${expr}" admits exactly what tcpdump -r admits`, { skip }, async () => {
    await withVethPair(async (p) => {
      const r = start(p.nsB, { interface: p.ifB, bpf_filter: expr });
      const file = await replay(p, frames);
      const want = tcpdumpAdmits(file, expr);
      assert.ok(want.length > 0 && want.length < frames.length, 'the expression separates the frames');
      await r.sink.waitFor(want.length, 3000);
      await r.cap.stop();
      await r.done;
      assert.deepEqual(
        r.sink.got.map((g) => g.data.toString('hex')),
        want.map((w) => w.toString('hex')),
      );
    });
  });
}

test('afpacket: an invalid filter is refused with libpcap\'s reason and the expression', { skip }, async () => {
  await withVethPair(async (p) => {
    assert.throws(
      () => open(p.nsB, { interface: p.ifB, bpf_filter: 'udp prot 5060' }),
      (e: unknown) => {
        assert.ok(e instanceof OtusError);
        assert.match(e.message, /invalid BPF filter "udp prot 5060": .*syntax error/);
        return true;
      },
    );
  });
});

test('afpacket: an unknown interface is named in the error', { skip }, async () => {
  await withVethPair(async (p) => {
    assert.throws(() => open(p.nsB, { interface: 'nosuch0' }), (e: unknown) => {
      assert.ok(e instanceof OtusError);
      assert.match(e.message, /no network interface "nosuch0"/);
      assert.equal(e.code, 'NO_SUCH_INTERFACE');
      return true;
    });
  });
});

test('afpacket: an interface that is down is refused at init', { skip }, async () => {
  await withVethPair(async (p) => {
    nsIp(p.nsB, 'link', 'set', p.ifB, 'down');
    assert.throws(() => open(p.nsB, { interface: p.ifB }), /network interface "ov\w+" is down/);
  });
});

test('afpacket: run() rejects when the interface goes down while capturing', { skip }, async () => {
  await withVethPair(async (p) => {
    const r = start(p.nsB, { interface: p.ifB });
    await replay(p, [ipv4Frame({ payload: 'before' })]);
    await r.sink.waitFor(1);
    nsIp(p.nsB, 'link', 'set', p.ifB, 'down');
    await assert.rejects(r.done, (e: unknown) => {
      assert.ok(e instanceof OtusError);
      assert.match(e.message, new RegExp(`interface "${p.ifB}" went down while capturing`));
      return true;
    });
    assert.equal(r.sink.got.length, 1, 'what arrived before is delivered');
    await r.cap.stop();
  });
});

test('afpacket: run() rejects when the interface is removed while capturing', { skip }, async () => {
  await withVethPair(async (p) => {
    const r = start(p.nsB, { interface: p.ifB });
    await sleep(20);
    nsIp(p.nsA, 'link', 'del', p.ifA); // takes its peer, the captured end, with it
    await assert.rejects(r.done, new RegExp(`interface "${p.ifB}" was removed while capturing`));
    await r.cap.stop();
  });
});

test('afpacket: stop() ends run() promptly and releases the ring', { skip }, async () => {
  await withVethPair(async (p) => {
    const r = start(p.nsB, { interface: p.ifB });
    await sleep(50);
    const t0 = performance.now();
    await r.cap.stop();
    await r.done;
    const ms = performance.now() - t0;
    assert.ok(ms < 100, `stop took ${ms.toFixed(1)} ms`);
    assert.deepEqual(r.cap.stats(), { packets: 0, bytes: 0, kernelDrops: 0, kernelFreezes: 0, kernelPackets: 0 });
    await r.cap.stop(); // idempotent
    await assert.rejects(r.cap.run(new Collector()), /cannot follow stop/);
  });
});

test('afpacket: a consumer that falls behind shows up as kernel drops, and nothing is lost uncounted', { skip }, async () => {
  await withVethPair(async (p) => {
    // Two 4 KiB blocks hold a few dozen of these frames; the rest must be dropped by the kernel.
    const cap = open(p.nsB, { interface: p.ifB, block_size: 4096, block_count: 2, frame_size: 2048, block_timeout_ms: 1 });
    const frames: Buffer[] = [];
    for (let i = 0; i < 500; i++) frames.push(ipv4Frame({ sport: i, payload: Buffer.alloc(200, i) }));
    await replay(p, frames); // nobody reads the ring meanwhile
    const sink = new Collector();
    const done = cap.run(sink);
    await sink.waitFor(frames.length, 500);
    const seen = cap.kernelSeen();
    const s = cap.stats();
    await cap.stop();
    await done;
    assert.ok(s.kernelDrops > 0, 'drops are counted');
    assert.ok(s.packets > 0 && s.packets < frames.length, `${s.packets} delivered`);
    assert.equal(s.packets + s.kernelDrops, frames.length, 'delivered + dropped = sent');
    assert.equal(seen, frames.length, 'the kernel saw every frame');
    assert.ok(s.kernelFreezes >= 1, 'the queue froze while the ring was full');
    // Every delivered frame is one of ours, intact, in order.
    let last = -1;
    for (const g of sink.got) {
      const i = g.data.readUInt16BE(34);
      assert.ok(i > last);
      assert.deepEqual(g.data, frames[i]);
      last = i;
    }
  });
});

test('afpacket: fan-out (hash) spreads flows over two sockets and keeps each flow on one', { skip }, async () => {
  await withVethPair(async (p) => {
    const fanout = { group_id: 4242, mode: 'hash' as const };
    // The filter must hold for members of a group too (it is attached after joining).
    const a = start(p.nsB, { interface: p.ifB, fanout, bpf_filter: 'udp port 5060' });
    const b = start(p.nsB, { interface: p.ifB, fanout, bpf_filter: 'udp port 5060' });
    const frames: Buffer[] = [];
    const flows = 64;
    for (let k = 0; k < 4; k++) {
      for (let f = 0; f < flows; f++) {
        const sport = 20000 + f;
        // Both directions of each flow.
        frames.push(ipv4Frame({ src: '10.1.0.1', dst: '10.2.0.1', sport, dport: 5060, payload: `f${f}` }));
        frames.push(ipv4Frame({ src: '10.2.0.1', dst: '10.1.0.1', sport: 5060, dport: sport, payload: `r${f}` }));
      }
    }
    const noise = [ipv4Frame({ sport: 1, dport: 9999 }), ipv4Frame({ proto: 'tcp', sport: 5060, dport: 80 })];
    await replay(p, [...noise, ...frames]);
    const until = Date.now() + 5000;
    while (a.sink.got.length + b.sink.got.length < frames.length && Date.now() < until) await sleep(10);
    await sleep(80);
    await Promise.all([a.cap.stop(), b.cap.stop()]);
    await Promise.all([a.done, b.done]);
    assert.equal(a.sink.got.length + b.sink.got.length, frames.length, 'each frame went to exactly one socket');
    const flowOf = (g: Got) => {
      const s = g.data.readUInt16BE(34);
      const d = g.data.readUInt16BE(36);
      return Math.min(s, d) === 5060 ? Math.max(s, d) : -1;
    };
    const fa = new Set(a.sink.got.map(flowOf));
    const fb = new Set(b.sink.got.map(flowOf));
    assert.ok(fa.size > 0 && fb.size > 0, `both sockets get flows (${fa.size} / ${fb.size})`);
    for (const f of fa) assert.ok(!fb.has(f), `flow ${f} is on one socket only, both directions`);
    assert.equal(fa.size + fb.size, flows);
  });
});

test('afpacket: binding mode, one capturer per worker thread in one fan-out group', { skip }, async () => {
  await withVethPair(async (p) => {
    const workers = [0, 1, 2].map(
      (index) => new Worker(new URL('./afpacket-worker.js', import.meta.url), { workerData: { ns: p.nsB, iface: p.ifB, groupId: 77, index } }),
    );
    try {
      const first = (w: Worker) => new Promise<{ type: string; message?: string; ports?: number[] }>((r) => w.once('message', r));
      for (const m of await Promise.all(workers.map(first))) assert.equal(m.type, 'ready', m.message);
      const frames: Buffer[] = [];
      for (let f = 0; f < 60; f++) for (let k = 0; k < 3; k++) frames.push(ipv4Frame({ sport: 30000 + f, dport: 5060 }));
      await replay(p, frames);
      await sleep(150);
      const results = await Promise.all(
        workers.map((w) => {
          const m = first(w);
          w.postMessage('stop');
          return m;
        }),
      );
      const sets = results.map((r) => new Set(r.ports));
      assert.equal(results.reduce((a, r) => a + r.ports!.length, 0), frames.length, 'every frame reached exactly one worker');
      assert.equal(sets.reduce((a, s) => a + s.size, 0), 60, 'no flow is split between workers');
      assert.ok(sets.filter((s) => s.size > 0).length >= 2, `flows are spread (${sets.map((s) => s.size).join('/')})`);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

test('afpacket: a socket cannot join a fan-out group with another mode', { skip }, async () => {
  await withVethPair(async (p) => {
    const a = open(p.nsB, { interface: p.ifB, fanout: { group_id: 7, mode: 'hash' } });
    try {
      assert.throws(() => open(p.nsB, { interface: p.ifB, fanout: { group_id: 7, mode: 'lb' } }), /cannot join fan-out group 7 .*another mode/);
    } finally {
      await a.stop();
    }
  });
});

test('afpacket: without CAP_NET_RAW the error says what privilege is needed', { skip: skip ?? (hasSetpriv() ? undefined : 'needs setpriv') }, () => {
  const mod = new URL('../../src/plugins/capture/afpacket/index.js', import.meta.url).pathname;
  const script =
    `import('${mod}').then((m) => { try { new m.AfPacketCapturer().init({ interface: 'lo' }, { log() {} }); console.log('opened'); }` +
    ` catch (e) { console.log(e.name + ': ' + e.message); } });`;
  const out = execFileSync('setpriv', ['--bounding-set', '-net_raw', '--inh-caps', '-net_raw', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.match(out, /OtusError: afpacket: capturing on "lo" needs the CAP_NET_RAW capability/);
});

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
