// The dns parser plugin: config, routing, labels, payload, counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IPPROTO } from '../../../src/core/packet.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { lookupPlugin } from '../../../src/plugin/registry.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { DnsParser, DnsPayload } from '../../../src/plugins/parser/dns/index.ts';
import { DnsWriter, F, udpPacket } from './dns-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };

function parser(config: Record<string, unknown> = {}): DnsParser {
  const p = new DnsParser();
  p.init(config, ctx);
  return p;
}

const query = new DnsWriter().header({ id: 4660, flags: F.RD, qd: 1 }).question('sip.example.com', 35).build();
const nxdomain = (() => {
  const w = new DnsWriter().header({ id: 4660, flags: F.QR | F.RD | F.RA | 3, qd: 1, ns: 1 });
  w.question('nope.example.com', 1);
  w.ptr(17).rr(6, 1, 300, (r) => r.name('ns', 17).name('admin', 17).u32(1).u32(2).u32(3).u32(4).u32(5));
  return w.build();
})();

test('registered as parser "dns"', () => {
  assert.ok(lookupPlugin('parser', 'dns')() instanceof DnsParser);
});

test('config: default ports, custom ports, errors naming the field', () => {
  const d = parser();
  for (const port of [53, 5353, 5355]) assert.equal(d.canHandle(udpPacket(query, 40000, port)), true, `port ${port}`);
  assert.equal(d.canHandle(udpPacket(query, 40000, 5354)), false);
  const c = parser({ ports: [8053] });
  assert.equal(c.canHandle(udpPacket(query, 8053, 40000)), true);
  assert.equal(c.canHandle(udpPacket(query, 40000, 53)), false);
  const bad: [unknown, RegExp][] = [
    [{ ports: ['53'] }, /parser dns: config\.ports\.0: /],
    [{ ports: [0] }, /config\.ports\.0: /],
    [{ ports: [65536] }, /config\.ports\.0: /],
    [{ ports: [] }, /config\.ports: at least one port/],
    [{ port: [53] }, /parser dns: .*port/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(() => new DnsParser().init(cfg as Record<string, unknown>, ctx), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  }
});

test('canHandle: UDP, either port, a whole header', () => {
  const d = parser();
  assert.equal(d.canHandle(udpPacket(query, 53, 40000)), true, 'source port');
  assert.equal(d.canHandle(udpPacket(query, 40000, 53)), true, 'destination port');
  assert.equal(d.canHandle(udpPacket(query, 40000, 53, IPPROTO.TCP)), false, 'TCP is not this parser (yet)');
  assert.equal(d.canHandle(udpPacket(query.subarray(0, 11), 40000, 53)), false, 'shorter than a header');
  assert.equal(d.canHandle(udpPacket(query.subarray(0, 12), 40000, 53)), true);
});

test('handle: labels for a query and for a response', () => {
  const d = parser();
  const q = d.handle(udpPacket(query));
  assert.ok(q);
  assert.deepEqual(q.labels, { 'dns.id': '4660', 'dns.query': 'sip.example.com', 'dns.type': 'NAPTR' });
  const r = d.handle(udpPacket(nxdomain, 53, 40000));
  assert.ok(r);
  assert.deepEqual(r.labels, { 'dns.id': '4660', 'dns.query': 'nope.example.com', 'dns.type': 'A', 'dns.rcode': 'NXDOMAIN' });
  const soa = (r.payload.toJSON() as { authority: { data: unknown }[] }).authority[0]!.data;
  assert.deepEqual(soa, { mname: 'ns.example.com', rname: 'admin.example.com', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 });
});

test('payload: type dns, JSON form, binary form a copy of the message', () => {
  const d = parser();
  const pkt = udpPacket(nxdomain, 53, 40000);
  const res = d.handle(pkt);
  assert.ok(res);
  const p = res.payload;
  assert.ok(p instanceof DnsPayload);
  assert.equal(p.type, 'dns');
  const j = p.toJSON() as Record<string, unknown>;
  assert.deepEqual(Object.keys(j), ['id', 'qr', 'opcode', 'flags', 'rcode', 'questions', 'answers', 'authority', 'additional']);
  assert.equal(j.rcode, 'NXDOMAIN');
  assert.deepEqual(j.questions, [{ name: 'nope.example.com', type: 'A', class: 'IN' }]);
  const bin = p.toBinary();
  assert.deepEqual(bin, nxdomain);
  // The worker reuses the frame buffer for the next packet.
  pkt.data.fill(0);
  assert.deepEqual(p.toBinary(), nxdomain);
  assert.equal(JSON.stringify(p.toJSON()), JSON.stringify(j));
});

test('damage is counted by reason; partial messages are reported, unreadable ones are not', () => {
  const d = parser();
  // Unreadable question: a loop.
  const loop = new DnsWriter().header({ id: 1, qd: 1 }).label('a').ptr(12).u16(1).u16(1).build();
  assert.equal(d.handle(udpPacket(loop)), null);
  // Forward pointer in the question.
  const fwd = new DnsWriter().header({ id: 2, qd: 1 }).ptr(20).u16(1).u16(1).bytes([0, 0, 0, 0, 0, 0]).build();
  assert.equal(d.handle(udpPacket(fwd)), null);
  // A response cut short in its answers: reported with what was read.
  const cut = nxdomain.subarray(0, nxdomain.length - 3);
  const r = d.handle(udpPacket(cut, 53, 40000));
  assert.ok(r);
  assert.equal(r.labels['dns.rcode'], 'NXDOMAIN');
  assert.equal((r.payload.toJSON() as { malformed: string }).malformed, 'truncated');
  assert.deepEqual(r.payload.toBinary(), cut);
  d.handle(udpPacket(query));
  const s = d.stats();
  assert.equal(s.messages, 2);
  assert.equal(s.queries, 1);
  assert.equal(s.responses, 1);
  assert.equal(s.partial, 1);
  assert.equal(s.rejected, 2);
  assert.equal(s.malformed_pointer_loop, 1);
  assert.equal(s.malformed_pointer_forward, 1);
  assert.equal(s.malformed_truncated, 1);
  assert.equal(s.malformed_short_header, 0);
});

test('non-DNS traffic on a DNS port is handled without throwing', () => {
  const d = parser();
  const junk = Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'));
  const r = d.handle(udpPacket(junk));
  // Whatever the bytes looked like, a result has string labels only.
  if (r !== null) for (const v of Object.values(r.labels)) assert.equal(typeof v, 'string');
  const total = Object.entries(d.stats())
    .filter(([k]) => k === 'messages' || k === 'rejected')
    .reduce((a, [, v]) => a + v, 0);
  assert.equal(total, 1);
});
