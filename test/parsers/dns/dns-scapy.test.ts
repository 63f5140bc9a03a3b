// parseDnsMessage against scapy (Debian's python3-scapy): scapy builds a
// message for every record type, plain and with its own name compression,
// dissects the bytes itself, and the two readings must agree field by field.
// Skipped when /usr/bin/python3 cannot import scapy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseDnsMessage, type DnsRecord } from '../../../src/plugins/parser/dns/message.ts';

const PYTHON = '/usr/bin/python3';

// Prints a JSON list of {case, hex, expect}; `expect` is scapy's dissection
// of the bytes, in parseDnsMessage's shapes (numbers for type and class).
const SCRIPT = String.raw`
import json, struct, sys, warnings
warnings.filterwarnings('ignore')
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRRSRV, DNSRRSOA, DNSRROPT, EDNS0TLV, dns_compress
from scapy.packet import NoPayload

def s(v):
    if isinstance(v, bytes): v = v.decode('latin1')
    return v

def name(v):
    v = s(v)
    if v == '.' or v == '': return '.'
    return v[:-1] if v.endswith('.') else v

def cs(b):
    # one <character-string> at b[0]
    n = b[0]
    return b[1:1+n].decode('latin1'), b[1+n:]

def rr_list(rr):
    out = []
    while rr is not None and not isinstance(rr, NoPayload):
        out.append(rr)
        rr = rr.payload
    return out

def data_of(rr):
    t = rr.type
    if t in (1, 28): return s(rr.rdata)
    if t in (2, 5, 12): return name(rr.rdata)
    if t == 15: return {'preference': rr.preference, 'exchange': name(rr.exchange)}
    if t == 16: return [s(x) for x in rr.rdata]
    if t == 33: return {'priority': rr.priority, 'weight': rr.weight, 'port': rr.port, 'target': name(rr.target)}
    if t == 6: return {'mname': name(rr.mname), 'rname': name(rr.rname), 'serial': rr.serial, 'refresh': rr.refresh,
                       'retry': rr.retry, 'expire': rr.expire, 'minimum': rr.minimum}
    if t == 41:
        return {'udp_size': rr.rclass, 'ext_rcode': rr.extrcode, 'version': rr.version, 'do': bool(rr.z & 0x8000),
                'flags': rr.z, 'options': [{'code': o.optcode, 'length': o.optlen} for o in rr.rdata]}
    raw = bytes(rr.rdata) if not isinstance(rr.rdata, str) else rr.rdata.encode('latin1')
    if t == 35:
        order, pref = struct.unpack('!HH', raw[:4])
        flags, rest = cs(raw[4:])
        services, rest = cs(rest)
        regexp, rest = cs(rest)
        labels = []
        while rest[0] != 0:
            labels.append(rest[1:1+rest[0]].decode('latin1')); rest = rest[1+rest[0]:]
        return {'order': order, 'preference': pref, 'flags': flags, 'services': services, 'regexp': regexp,
                'replacement': '.'.join(labels) if labels else '.'}
    if t == 257:
        tl = raw[1]
        return {'flags': raw[0], 'tag': raw[2:2+tl].decode('latin1'), 'value': raw[2+tl:].decode('latin1')}
    return {'type': t, 'rdlength': len(raw)}

def rr_json(rr):
    ttl = (rr.extrcode << 24 | rr.version << 16 | rr.z) if rr.type == 41 else rr.ttl
    return {'name': name(rr.rrname), 'type': rr.type, 'class': rr.rclass, 'ttl': ttl, 'data': data_of(rr)}

def expect(wire):
    d = DNS(wire)
    return {
        'id': d.id, 'qr': bool(d.qr), 'opcode': d.opcode, 'aa': bool(d.aa), 'tc': bool(d.tc), 'rd': bool(d.rd),
        'ra': bool(d.ra), 'rcode': d.rcode,
        'questions': [{'name': name(q.qname), 'type': q.qtype, 'class': q.qclass} for q in rr_list(d.qd)],
        'answers': [rr_json(r) for r in rr_list(d.an)],
        'authority': [rr_json(r) for r in rr_list(d.ns)],
        'additional': [rr_json(r) for r in rr_list(d.ar)],
    }

naptr = struct.pack('!HH', 100, 10) + b'\x01S' + b'\x07SIP+D2U' + b'\x00' + b'\x04_sip\x04_udp\x07example\x03com\x00'
naptr2 = struct.pack('!HH', 50, 20) + b'\x01U' + b'\x07E2U+sip' + b'\x1b!^.*$!sip:info@example.com!' + b'\x00'
caa = b'\x80\x05issueletsencrypt.org'

cases = {
  'query_a': DNS(id=0x1234, rd=1, qd=DNSQR(qname='www.example.com', qtype='A')),
  'query_aaaa_edns': DNS(id=2, rd=1, qd=DNSQR(qname='ipv6.example.org', qtype='AAAA'),
                         ar=DNSRROPT(rclass=4096, z=0x8000, rdata=[EDNS0TLV(optcode=10, optdata=b'12345678')])),
  'resp_a_cname': DNS(id=3, qr=1, rd=1, ra=1, qd=DNSQR(qname='www.example.com', qtype='A'),
      an=DNSRR(rrname='www.example.com', type='CNAME', ttl=300, rdata='web.example.com')
        /DNSRR(rrname='web.example.com', type='A', ttl=60, rdata='192.0.2.10')
        /DNSRR(rrname='web.example.com', type='A', ttl=60, rdata='192.0.2.11')),
  'resp_aaaa': DNS(id=4, qr=1, rd=1, ra=1, qd=DNSQR(qname='ipv6.example.org', qtype='AAAA'),
      an=DNSRR(rrname='ipv6.example.org', type='AAAA', ttl=3600, rdata='2001:db8::1')),
  'resp_ns_soa': DNS(id=5, qr=1, aa=1, qd=DNSQR(qname='example.com', qtype='NS'),
      an=DNSRR(rrname='example.com', type='NS', ttl=86400, rdata='ns1.example.com')
        /DNSRR(rrname='example.com', type='NS', ttl=86400, rdata='ns2.example.com'),
      ns=DNSRRSOA(rrname='example.com', type=6, ttl=3600, mname='ns1.example.com', rname='hostmaster.example.com',
                  serial=2024010101, refresh=7200, retry=3600, expire=1209600, minimum=300),
      ar=DNSRR(rrname='ns1.example.com', type='A', ttl=86400, rdata='192.0.2.53')),
  'resp_ptr': DNS(id=6, qr=1, qd=DNSQR(qname='10.2.0.192.in-addr.arpa', qtype='PTR'),
      an=DNSRR(rrname='10.2.0.192.in-addr.arpa', type='PTR', ttl=600, rdata='host.example.com')),
  'resp_mx': DNS(id=7, qr=1, qd=DNSQR(qname='example.com', qtype='MX'),
      an=DNSRRMX(rrname='example.com', type=15, ttl=300, preference=10, exchange='mail.example.com')
        /DNSRRMX(rrname='example.com', type=15, ttl=300, preference=20, exchange='mail2.example.com')),
  'resp_txt': DNS(id=8, qr=1, qd=DNSQR(qname='example.com', qtype='TXT'),
      an=DNSRR(rrname='example.com', type='TXT', ttl=300, rdata=['v=spf1 -all', 'second string'])),
  'resp_srv': DNS(id=9, qr=1, qd=DNSQR(qname='_sip._udp.example.com', qtype='SRV'),
      an=DNSRRSRV(rrname='_sip._udp.example.com', type=33, ttl=300, priority=10, weight=60, port=5060, target='sip1.example.com')
        /DNSRRSRV(rrname='_sip._udp.example.com', type=33, ttl=300, priority=20, weight=0, port=5060, target='sip2.example.com')),
  'resp_naptr': DNS(id=10, qr=1, aa=1, qd=DNSQR(qname='example.com', qtype='NAPTR'),
      an=DNSRR(rrname='example.com', type=35, ttl=300, rdata=naptr)/DNSRR(rrname='example.com', type=35, ttl=300, rdata=naptr2)),
  'resp_caa': DNS(id=11, qr=1, qd=DNSQR(qname='example.com', qtype='CAA'),
      an=DNSRR(rrname='example.com', type=257, ttl=300, rdata=caa)),
  'resp_unknown': DNS(id=12, qr=1, qd=DNSQR(qname='example.com', qtype=65280),
      an=DNSRR(rrname='example.com', type=65280, ttl=5, rdata=b'\x01\x02\x03\x04\x05')),
  'resp_nxdomain': DNS(id=13, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname='nope.example.com', qtype='A'),
      ns=DNSRRSOA(rrname='example.com', type=6, ttl=300, mname='ns1.example.com', rname='hostmaster.example.com',
                  serial=1, refresh=2, retry=3, expire=4, minimum=5),
      ar=DNSRROPT(rclass=1232, rdata=[])),
  'resp_servfail': DNS(id=14, qr=1, rd=1, ra=1, rcode=2, qd=DNSQR(qname='broken.example.net', qtype='SRV')),
}
out = []
for k, p in cases.items():
    for compress in (False, True):
        wire = bytes(dns_compress(p)) if compress else bytes(p)
        out.append({'case': k + ('_compressed' if compress else ''), 'hex': wire.hex(), 'expect': expect(wire)})
json.dump(out, sys.stdout)
`;

interface Case {
  case: string;
  hex: string;
  expect: {
    id: number;
    qr: boolean;
    opcode: number;
    aa: boolean;
    tc: boolean;
    rd: boolean;
    ra: boolean;
    rcode: number;
    questions: unknown[];
    answers: unknown[];
    authority: unknown[];
    additional: unknown[];
  };
}

function scapyCases(): Case[] | string {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 });
  if (r.error) return `${PYTHON} did not run: ${r.error.message}`;
  if (r.status !== 0) {
    if (/No module named .?scapy/.test(r.stderr)) return 'python3-scapy is not installed';
    throw new Error(`the scapy script failed: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as Case[];
}

const rr = (r: DnsRecord) => ({ name: r.name, type: r.type, class: r.class, ttl: r.ttl, data: r.data });

test('every record type agrees with scapy, plain and compressed', (t) => {
  const cases = scapyCases();
  if (typeof cases === 'string') {
    t.skip(cases);
    return;
  }
  assert.ok(cases.length >= 28);
  const types = new Set<number>();
  let compressed = 0;
  for (const c of cases) {
    const bytes = Uint8Array.from(Buffer.from(c.hex, 'hex'));
    const r = parseDnsMessage(bytes, 0, bytes.length);
    assert.equal(r.error, null, `${c.case}: ${r.error} at ${r.errorOffset}`);
    const m = r.message!;
    const e = c.expect;
    assert.deepEqual(
      { id: m.id, qr: m.qr, opcode: m.opcode, aa: m.aa, tc: m.tc, rd: m.rd, ra: m.ra, rcode: m.flags & 0xf },
      { id: e.id, qr: e.qr, opcode: e.opcode, aa: e.aa, tc: e.tc, rd: e.rd, ra: e.ra, rcode: e.rcode },
      c.case,
    );
    assert.deepEqual(m.questions, e.questions, `${c.case}: questions`);
    assert.deepEqual(m.answers.map(rr), e.answers, `${c.case}: answers`);
    assert.deepEqual(m.authority.map(rr), e.authority, `${c.case}: authority`);
    assert.deepEqual(m.additional.map(rr), e.additional, `${c.case}: additional`);
    assert.equal(m.trailing, 0, c.case);
    for (const x of [...m.answers, ...m.authority, ...m.additional]) types.add(x.type);
    if (c.case.endsWith('_compressed') && bytes.some((v, i) => i >= 12 && (v & 0xc0) === 0xc0)) compressed++;
  }
  // A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, NAPTR, OPT, CAA and one opaque type.
  assert.deepEqual([...types].sort((a, b) => a - b), [1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 41, 257, 65280]);
  assert.ok(compressed >= 10, `only ${compressed} messages used compression`);
});
