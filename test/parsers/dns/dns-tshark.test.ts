// The dns parser's labels against tshark: a pcap of hand-written frames
// (Ethernet / IPv4 / UDP / DNS, mDNS and LLMNR included) is dissected by
// tshark and parsed by the plugin, and dns.id, the query name, its type and
// the rcode of responses must agree frame by frame. Skipped without tshark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap } from '../../helpers/pcap-writer.ts';
import { DnsParser } from '../../../src/plugins/parser/dns/dns-parser.ts';
import { rcodeName, typeName } from '../../../src/plugins/parser/dns/names.ts';
import { DnsWriter, F, udpFrame, udpPacket } from './dns-wire.ts';

interface Msg {
  bytes: Uint8Array;
  sport: number;
  dport: number;
}

function messages(): Msg[] {
  const out: Msg[] = [];
  const q = (id: number, name: string, type: number, dport = 53) => {
    out.push({ bytes: new DnsWriter().header({ id, flags: F.RD, qd: 1 }).question(name, type).build(), sport: 33000 + id, dport });
  };
  const resp = (id: number, rcode: number, name: string, type: number, build?: (w: DnsWriter) => number) => {
    const w = new DnsWriter().header({ id, flags: F.QR | F.RD | F.RA | rcode, qd: 1, an: 0 });
    w.question(name, type);
    const an = build ? build(w) : 0;
    const b = w.build();
    b[7] = an;
    out.push({ bytes: b, sport: 53, dport: 33000 + id });
  };
  q(0x1a2b, 'www.example.com', 1);
  resp(0x1a2b, 0, 'www.example.com', 1, (w) => {
    w.ptr(12).rr(5, 1, 300, (r) => r.name('web', 16));
    w.name('web', 16).rr(1, 1, 60, (r) => r.bytes([192, 0, 2, 80]));
    return 2;
  });
  q(2, 'ipv6.example.org', 28);
  resp(2, 0, 'ipv6.example.org', 28, (w) => {
    w.ptr(12).rr(28, 1, 60, (r) => r.bytes([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    return 1;
  });
  resp(3, 3, 'nope.Example.COM', 1);
  resp(4, 2, '_sip._udp.example.net', 33);
  q(5, 'example.com', 35);
  resp(5, 0, 'example.com', 35, (w) => {
    w.ptr(12).rr(35, 1, 60, (r) => r.u16(100).u16(10).label('S').label('SIP+D2U').label('').name('_sip._udp', 12));
    return 1;
  });
  resp(6, 5, '1.2.0.192.in-addr.arpa', 12);
  resp(7, 4, 'example.com', 257);
  q(8, 'example.com', 65280);
  q(9, 'printer.local', 12, 5353);
  q(10, 'wpad', 1, 5355);
  resp(11, 1, 'example.com', 16);
  return out;
}

function hasTshark(): boolean {
  return spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
}

test('dns.id, query, type and rcode agree with tshark', (t) => {
  if (!hasTshark()) {
    t.skip('tshark is not installed');
    return;
  }
  const msgs = messages();
  const dir = mkdtempSync(join(tmpdir(), 'otus-dns-'));
  try {
    const file = join(dir, 'dns.pcap');
    writePcap(
      file,
      msgs.map((m, i) => ({ data: udpFrame(m.bytes, m.sport, m.dport), tsSec: 1_700_000_000 + i, tsNsec: 0 })),
    );
    const r = spawnSync(
      'tshark',
      ['-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-e', 'dns.id', '-e', 'dns.qry.name', '-e', 'dns.qry.type', '-e', 'dns.flags.rcode'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, msgs.length);
    const parser = new DnsParser();
    parser.init({}, { taskId: 't', workerIndex: 0, agent: 'a', log: () => {} });
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const [id, name, type, rcode] = lines[i]!.split('\t');
      const pkt = udpPacket(m.bytes, m.sport, m.dport);
      assert.ok(parser.canHandle(pkt), `frame ${i + 1}`);
      const res = parser.handle(pkt);
      assert.ok(res, `frame ${i + 1}`);
      const l = res.labels;
      const what = `frame ${i + 1}: tshark "${lines[i]}", otus ${JSON.stringify(l)}`;
      assert.equal(l['dns.id'], String(Number(id)), what);
      assert.equal(l['dns.query'], name, what);
      assert.equal(l['dns.type'], typeName(Number(type)), what);
      const isResponse = (m.bytes[2]! & 0x80) !== 0;
      if (isResponse) {
        assert.ok(rcode !== undefined && rcode !== '', `${what}: tshark shows no rcode`);
        assert.equal(l['dns.rcode'], rcodeName(Number(rcode)), what);
      } else {
        assert.equal(l['dns.rcode'], undefined, what);
      }
    }
    const s = parser.stats();
    assert.equal(s.messages, msgs.length);
    assert.equal(s.partial, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
