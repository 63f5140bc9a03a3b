// parseDnsMessage over hand-written messages: every record type, name
// compression (good and hostile), truncation, and a mutation loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dnsMessageToJson,
  MAX_POINTERS,
  parseDnsMessage,
  type DnsMessage,
  type DnsParseResult,
} from '../../../src/plugins/parser/dns/message.ts';
import { dnsLabels } from '../../../src/plugins/parser/dns/dns-parser.ts';
import { DnsWriter, F } from './dns-wire.ts';

function parse(b: Uint8Array): DnsParseResult {
  return parseDnsMessage(b, 0, b.length);
}

function ok(b: Uint8Array): DnsMessage {
  const r = parse(b);
  assert.equal(r.error, null, `unexpected error ${r.error} at ${r.errorOffset}`);
  assert.ok(r.message);
  return r.message;
}

test('a query: header, question, labels and JSON form', () => {
  const b = new DnsWriter().header({ id: 0xbeef, flags: F.RD, qd: 1 }).question('www.Example.com', 1).build();
  const m = ok(b);
  assert.equal(m.id, 0xbeef);
  assert.equal(m.qr, false);
  assert.equal(m.rd, true);
  assert.equal(m.opcode, 0);
  assert.deepEqual(m.questions, [{ name: 'www.Example.com', type: 1, class: 1 }]);
  assert.deepEqual(dnsLabels(m), { 'dns.id': '48879', 'dns.query': 'www.Example.com', 'dns.type': 'A' });
  assert.deepEqual(dnsMessageToJson(m), {
    id: 48879,
    qr: false,
    opcode: 'QUERY',
    flags: { aa: false, tc: false, rd: true, ra: false, ad: false, cd: false },
    rcode: 'NOERROR',
    questions: [{ name: 'www.Example.com', type: 'A', class: 'IN' }],
    answers: [],
    authority: [],
    additional: [],
  });
});

/** A response carrying one record of every type the parser decodes, names uncompressed. */
function everyType(): Uint8Array {
  const w = new DnsWriter().header({ id: 77, flags: F.QR | F.AA | F.RD | F.RA, qd: 1, an: 11, ns: 1, ar: 1 });
  w.question('example.com', 255);
  w.name('example.com').rr(1, 1, 300, (r) => r.bytes([192, 0, 2, 1]));
  w.name('example.com').rr(28, 1, 300, (r) => r.bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
  w.name('alias.example.com').rr(5, 1, 60, (r) => r.name('example.com'));
  w.name('example.com').rr(2, 1, 86400, (r) => r.name('ns1.example.com'));
  w.name('1.2.0.192.in-addr.arpa').rr(12, 1, 60, (r) => r.name('host.example.com'));
  w.name('example.com').rr(15, 1, 300, (r) => r.u16(10).name('mail.example.com'));
  w.name('example.com').rr(16, 1, 300, (r) => r.label('v=spf1 -all').label('').label('x'));
  w.name('_sip._udp.example.com').rr(33, 1, 300, (r) => r.u16(10).u16(60).u16(5060).name('sip.example.com'));
  w.name('example.com').rr(35, 1, 300, (r) =>
    r.u16(100).u16(10).label('S').label('SIP+D2U').label('').name('_sip._udp.example.com'),
  );
  w.name('example.com').rr(257, 1, 300, (r) => r.u8(128).label('issue').bytes('ca.example.net'));
  w.name('example.com').rr(65, 1, 300, (r) => r.bytes([0, 1, 0]));
  w.name('example.com').rr(6, 1, 3600, (r) =>
    r.name('ns1.example.com').name('hostmaster.example.com').u32(2024010101).u32(7200).u32(3600).u32(1209600).u32(300),
  );
  // EDNS0: payload size 1232, extended rcode 0, version 0, DO, a cookie option.
  w.name('').rr(41, 1232, 0x00008000, (r) => r.u16(10).u16(8).bytes([1, 2, 3, 4, 5, 6, 7, 8]));
  return w.build();
}

test('every decoded record type, with its JSON form', () => {
  const m = ok(everyType());
  const data = m.answers.map((a) => a.data);
  assert.deepEqual(data, [
    '192.0.2.1',
    '2001:db8::1',
    'example.com',
    'ns1.example.com',
    'host.example.com',
    { preference: 10, exchange: 'mail.example.com' },
    ['v=spf1 -all', '', 'x'],
    { priority: 10, weight: 60, port: 5060, target: 'sip.example.com' },
    { order: 100, preference: 10, flags: 'S', services: 'SIP+D2U', regexp: '', replacement: '_sip._udp.example.com' },
    { flags: 128, tag: 'issue', value: 'ca.example.net' },
    { type: 65, rdlength: 3 },
  ]);
  assert.deepEqual(m.authority[0]!.data, {
    mname: 'ns1.example.com',
    rname: 'hostmaster.example.com',
    serial: 2024010101,
    refresh: 7200,
    retry: 3600,
    expire: 1209600,
    minimum: 300,
  });
  assert.deepEqual(m.additional[0]!.data, {
    udp_size: 1232,
    ext_rcode: 0,
    version: 0,
    do: true,
    flags: 0x8000,
    options: [{ code: 10, length: 8 }],
  });
  assert.deepEqual(m.edns, m.additional[0]!.data);
  assert.equal(m.trailing, 0);
  const j = dnsMessageToJson(m) as { answers: { type: string }[]; additional: unknown[] };
  assert.deepEqual(
    j.answers.map((a) => a.type),
    ['A', 'AAAA', 'CNAME', 'NS', 'PTR', 'MX', 'TXT', 'SRV', 'NAPTR', 'CAA', 'HTTPS'],
  );
  assert.deepEqual(j.additional[0], {
    name: '.',
    type: 'OPT',
    class: 'CLASS1232',
    ttl: 0x8000,
    data: { udp_size: 1232, ext_rcode: 0, version: 0, do: true, flags: 0x8000, options: [{ code: 10, length: 8 }] },
  });
  assert.deepEqual(dnsLabels(m), { 'dns.id': '77', 'dns.query': 'example.com', 'dns.type': 'ANY', 'dns.rcode': 'NOERROR' });
  // The JSON form is plain data.
  assert.doesNotThrow(() => JSON.stringify(dnsMessageToJson(m)));
});

test('compression: suffix pointers, a pointer chain and a pointer to a pointer', () => {
  const w = new DnsWriter().header({ id: 1, flags: F.QR, qd: 1, an: 3 });
  const q = w.offset; // 12: 3www 7example 3com 0
  w.question('www.example.com', 1);
  const example = q + 4; // "example.com"
  const an1 = w.offset;
  w.ptr(q).rr(5, 1, 60, (r) => r.name('web', example)); // www.example.com CNAME web.example.com
  const web = an1 + 12; // the CNAME rdata: 3web + pointer
  const an2 = w.offset;
  w.name('a', web).rr(1, 1, 60, (r) => r.bytes([1, 2, 3, 4])); // a -> web -> example.com: a chain of two
  w.ptr(an2).rr(1, 1, 60, (r) => r.bytes([5, 6, 7, 8])); // a pointer to a name that is labels + pointer
  const m = ok(w.build());
  assert.deepEqual(
    m.answers.map((a) => [a.name, a.data]),
    [
      ['www.example.com', 'web.example.com'],
      ['a.web.example.com', '1.2.3.4'],
      ['a.web.example.com', '5.6.7.8'],
    ],
  );

  // A name that is nothing but a pointer to a pointer.
  const v = new DnsWriter().header({ id: 2, flags: F.QR, qd: 1, an: 2 });
  v.question('x.example', 1);
  const a1 = v.offset;
  v.ptr(12).rr(1, 1, 1, (r) => r.bytes([1, 1, 1, 1]));
  v.ptr(a1).rr(1, 1, 1, (r) => r.bytes([2, 2, 2, 2]));
  assert.deepEqual(
    ok(v.build()).answers.map((a) => a.name),
    ['x.example', 'x.example'],
  );
});

test('a compression loop is counted, not followed', () => {
  // The question is "a" followed by a pointer back to its own first label.
  const self = new DnsWriter().header({ id: 3, qd: 1 }).label('a').ptr(12).u16(1).u16(1).build();
  const r = parse(self);
  assert.equal(r.message, null);
  assert.equal(r.error, 'pointer_loop');
  assert.equal(r.errorOffset, 14);

  // A name whose pointer leads into its own record's rdata is a forward
  // pointer, even when the rdata points back: mutual pointers always
  // include a forward one. The record before the damage is kept.
  const w = new DnsWriter().header({ id: 4, flags: F.QR, qd: 1, an: 2 });
  w.question('ok.example', 1);
  w.name('good').u16(1).u16(1).u32(1).u16(4).bytes([9, 9, 9, 9]);
  const an2 = w.offset;
  const rdata = an2 + 4 + 10; // after "b" + pointer and the fixed fields
  w.label('b').ptr(rdata);
  w.u16(65280).u16(1).u32(1).u16(4).label('c').ptr(an2);
  const r2 = parse(w.build());
  assert.ok(r2.message, 'the message is kept with what came before the damage');
  assert.equal(r2.error, 'pointer_forward');
  assert.equal(r2.errorOffset, an2 + 2);
  assert.deepEqual(r2.message.answers.map((a) => a.name), ['good']);

  // A pure backwards loop: labels at X then a pointer to X, reached from later.
  const l = new DnsWriter().header({ id: 5, flags: F.QR, qd: 1, an: 2 });
  l.question('q', 1);
  const x = l.offset;
  // Record 1's name is "x" + pointer to record 1's own name: the pointer is
  // backwards (x < pointer) yet loops.
  l.label('x').ptr(x).u16(1).u16(1).u32(1).u16(4).bytes([1, 2, 3, 4]);
  const r3 = parse(l.build());
  assert.equal(r3.error, 'pointer_loop');
  assert.equal(r3.message?.answers.length, 0);
});

test('forward pointers, pointers into the header and bad label types are refused', () => {
  const fwd = new DnsWriter().header({ id: 1, qd: 1 }).ptr(40).u16(1).u16(1).bytes(new Array(40).fill(0)).build();
  assert.deepEqual(parse(fwd), { message: null, error: 'pointer_forward', errorOffset: 12 });
  const selfPtr = new DnsWriter().header({ id: 1, qd: 1 }).ptr(12).u16(1).u16(1).build();
  assert.equal(parse(selfPtr).error, 'pointer_forward');
  const hdr = new DnsWriter().header({ id: 1, qd: 1 }).ptr(2).u16(1).u16(1).build();
  assert.equal(parse(hdr).error, 'pointer_header');
  for (const bad of [0x40, 0x7f, 0x80, 0xbf]) {
    const b = new DnsWriter().header({ id: 1, qd: 1 }).u8(bad).bytes(new Array(200).fill(0x61)).u8(0).u16(1).u16(1).build();
    assert.equal(parse(b).error, 'label_too_long', `length byte ${bad}`);
  }
  const max = new DnsWriter().header({ id: 1, qd: 1 }).label('a'.repeat(63)).u8(0).u16(1).u16(1).build();
  assert.equal(ok(max).questions[0]!.name, 'a'.repeat(63));
});

test('names: 255 bytes on the wire at most, also when built from pointers', () => {
  const l63 = 'a'.repeat(63);
  // 3 x 64 + 62 + 1 = 255 bytes on the wire.
  const at255 = new DnsWriter().header({ qd: 1 }).name(`${l63}.${l63}.${l63}.${'b'.repeat(61)}`).u16(1).u16(1).build();
  assert.equal(ok(at255).questions[0]!.name.length, 63 * 3 + 61 + 3);
  const at256 = new DnsWriter().header({ qd: 1 }).name(`${l63}.${l63}.${l63}.${'b'.repeat(62)}`).u16(1).u16(1).build();
  assert.equal(parse(at256).error, 'name_too_long');
  // Each piece is short; together they are too long.
  const w = new DnsWriter().header({ flags: F.QR, qd: 1, an: 1 });
  w.question(`${l63}.${l63}`, 1); // 129 bytes
  w.name(`${l63}.${l63}`, 12).rr(1, 1, 1, (r) => r.bytes([1, 2, 3, 4])); // 128 + 129 > 255
  const r = parse(w.build());
  assert.equal(r.error, 'name_too_long');
  assert.equal(r.message?.questions.length, 1);
});

test(`pointer chains: ${MAX_POINTERS} pointers are followed, one more is refused`, () => {
  function chain(pointers: number): Uint8Array {
    const w = new DnsWriter().header({ flags: F.QR, qd: 1, an: 2 });
    w.question('end', 1);
    // Record 1 (type 65280) carries the chain in its rdata: each pointer points at the one before it.
    w.name('').u16(65280).u16(1).u32(0);
    const inner = pointers - 1; // the last jump is record 2's own name
    w.u16(inner * 2);
    let prev = 12;
    for (let i = 0; i < inner; i++) {
      const here = w.offset;
      w.ptr(prev);
      prev = here;
    }
    w.ptr(prev).rr(1, 1, 1, (r) => r.bytes([1, 2, 3, 4]));
    return w.build();
  }
  const good = parse(chain(MAX_POINTERS));
  assert.equal(good.error, null);
  assert.equal(good.message?.answers[1]!.name, 'end');
  const bad = parse(chain(MAX_POINTERS + 1));
  assert.equal(bad.error, 'too_many_pointers');
  assert.equal(bad.message?.answers.length, 1);
});

test('truncated messages: every prefix parses without throwing, keeping what is complete', () => {
  const full = everyType();
  const complete = ok(full);
  let lastAnswers = -1;
  for (let n = 0; n < full.length; n++) {
    const r = parseDnsMessage(full, 0, n);
    if (n < 12) {
      assert.deepEqual(r, { message: null, error: 'short_header', errorOffset: 0 });
      continue;
    }
    assert.notEqual(r.error, null, `prefix ${n} cannot be complete`);
    if (r.message === null) {
      assert.equal(r.error, 'truncated', `prefix ${n}`);
      continue;
    }
    // A cut inside an rdata whose contents say more than is there is still a cut.
    assert.ok(r.error === 'truncated' || r.error === 'bad_rdata', `prefix ${n}: ${r.error}`);
    const got = [...r.message.answers, ...r.message.authority, ...r.message.additional];
    const want = [...complete.answers, ...complete.authority, ...complete.additional].slice(0, got.length);
    assert.deepEqual(got, want, `prefix ${n}: the records kept are the complete ones`);
    assert.ok(got.length >= lastAnswers);
    lastAnswers = got.length;
  }
  assert.equal(lastAnswers, 12, 'the last record is only lost at the very end');
  // Counts that promise far more than the message holds.
  const liar = new DnsWriter().header({ flags: F.QR, qd: 1, an: 65535, ns: 65535, ar: 65535 }).question('x', 1).build();
  const r = parse(liar);
  assert.equal(r.error, 'truncated');
  assert.equal(r.message?.answers.length, 0);
  const noQuestion = new DnsWriter().header({ qd: 65535 }).build();
  assert.equal(parse(noQuestion).error, 'truncated');
});

test('rdata that does not fit its type is bad_rdata', () => {
  function one(type: number, rdata: (w: DnsWriter) => void): DnsParseResult {
    const w = new DnsWriter().header({ flags: F.QR, qd: 1, an: 2 }).question('q', type);
    w.name('ok').rr(1, 1, 1, (r) => r.bytes([1, 2, 3, 4]));
    w.name('bad').rr(type, 1, 1, rdata);
    return parse(w.build());
  }
  const cases: [string, number, (w: DnsWriter) => void][] = [
    ['A of 5 bytes', 1, (r) => r.bytes([1, 2, 3, 4, 5])],
    ['AAAA of 4 bytes', 28, (r) => r.bytes([1, 2, 3, 4])],
    ['CNAME with bytes after the name', 5, (r) => r.name('x').u8(0)],
    ['CNAME running past its rdata', 5, (r) => r.u8(5).bytes('ab')],
    ['empty NS', 2, () => {}],
    ['MX without a name', 15, (r) => r.u16(1)],
    ['TXT string overrunning', 16, (r) => r.u8(10).bytes('abc')],
    ['SRV too short', 33, (r) => r.u16(1).u16(2)],
    ['SOA without its numbers', 6, (r) => r.name('a').name('b').u32(1)],
    ['NAPTR string overrunning', 35, (r) => r.u16(1).u16(1).u8(50).bytes('S')],
    ['OPT option overrunning', 41, (r) => r.u16(10).u16(20).bytes([1, 2])],
    ['CAA tag overrunning', 257, (r) => r.u8(0).u8(9).bytes('iss')],
  ];
  for (const [what, type, rdata] of cases) {
    const r = one(type, rdata);
    assert.equal(r.error, 'bad_rdata', what);
    assert.equal(r.message?.answers.length, 1, `${what}: the good record is kept`);
  }
  // An rdlength that runs past the message is a truncation, whatever the type.
  const w = new DnsWriter().header({ flags: F.QR, qd: 1, an: 1 }).question('q', 5);
  w.name('x').u16(5).u16(1).u32(1).u16(5).u8(1).u8(0x61);
  assert.equal(parse(w.build()).error, 'truncated');
});

test('names and strings escape what is not printable, as presentation format does', () => {
  const w = new DnsWriter().header({ flags: F.QR, qd: 1, an: 1 });
  w.label('a.b').label([0x5c, 0x20, 0x00, 0xff, 0x41]).u8(0).u16(16).u16(1);
  w.ptr(12).rr(16, 1, 1, (r) => r.label([0x22, 0x20, 0x5c, 0x0a, 0xe9]));
  const m = ok(w.build());
  assert.equal(m.questions[0]!.name, 'a\\.b.\\\\\\032\\000\\255A');
  assert.deepEqual(m.answers[0]!.data, ['" \\\\\\010\\233']);
});

test('mDNS class bits: unicast-response in questions, cache-flush in records', () => {
  const w = new DnsWriter().header({ flags: F.QR | F.AA, qd: 1, an: 1 });
  w.question('printer.local', 1, 0x8001);
  w.ptr(12).rr(1, 0x8001, 120, (r) => r.bytes([169, 254, 1, 2]));
  const j = dnsMessageToJson(ok(w.build())) as { questions: unknown[]; answers: unknown[] };
  assert.deepEqual(j.questions, [{ name: 'printer.local', type: 'A', class: 'IN', unicast_response: true }]);
  assert.deepEqual(j.answers, [{ name: 'printer.local', type: 'A', class: 'IN', cache_flush: true, ttl: 120, data: '169.254.1.2' }]);
});

test('EDNS0 extends the rcode; the label and JSON show the full code', () => {
  const w = new DnsWriter().header({ flags: F.QR | 0x0001, qd: 1, ar: 1 }).question('example.com', 1);
  w.name('').rr(41, 4096, 0x01000000, () => {}); // extended rcode 1: (1 << 4) | 1 = 17
  const m = ok(w.build());
  assert.equal(m.rcode, 17);
  assert.equal(dnsLabels(m)['dns.rcode'], 'BADKEY');
  const w2 = new DnsWriter().header({ flags: F.QR, qd: 1, ar: 1 }).question('example.com', 1);
  w2.name('').rr(41, 4096, 0x01000000, () => {});
  assert.equal(dnsLabels(ok(w2.build()))['dns.rcode'], 'BADVERS');
  const rc = new DnsWriter().header({ flags: F.QR | 0x000c, qd: 1 }).question('example.com', 1).build();
  assert.equal(dnsLabels(ok(rc))['dns.rcode'], '12', 'an unnamed rcode is its number');
});

test('labels: unnamed types, the root, responses without a question', () => {
  const t = new DnsWriter().header({ id: 9, qd: 1 }).question('x.example', 65280).build();
  assert.equal(dnsLabels(ok(t))['dns.type'], 'TYPE65280');
  const root = new DnsWriter().header({ id: 9, qd: 1 }).question('', 2).build();
  assert.deepEqual(dnsLabels(ok(root)), { 'dns.id': '9', 'dns.query': '.', 'dns.type': 'NS' });
  const none = new DnsWriter().header({ id: 10, flags: F.QR | 5 }).build();
  assert.deepEqual(dnsLabels(ok(none)), { 'dns.id': '10', 'dns.rcode': 'REFUSED' });
});

test('offset and length: pointers are relative to the message, bytes beyond it are not read', () => {
  const msg = new DnsWriter().header({ id: 5, flags: F.QR, qd: 1, an: 1 }).question('a.example', 1);
  msg.ptr(12).rr(1, 1, 5, (r) => r.bytes([10, 0, 0, 1]));
  const m = msg.build();
  const buf = new Uint8Array(7 + m.length + 9).fill(0xc0);
  buf.set(m, 7);
  const r = parseDnsMessage(buf, 7, m.length);
  assert.equal(r.error, null);
  assert.equal(r.message?.answers[0]!.name, 'a.example');
  assert.equal(r.message?.trailing, 0);
  // Trailing bytes inside the given length are reported, not an error.
  const r2 = parseDnsMessage(buf, 7, m.length + 3);
  assert.equal(r2.error, null);
  assert.equal(r2.message?.trailing, 3);
  // A length beyond the buffer is cut to the buffer.
  assert.equal(parseDnsMessage(m, 0, 1e6).message?.length, m.length);
  assert.equal(parseDnsMessage(m, m.length + 5, 20).error, 'short_header');
  assert.equal(parseDnsMessage(m, -1, 20).error, 'short_header');
});

/** xorshift32: the mutation loop must be reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

test('random mutations never throw and always give a well-formed result', () => {
  const corpus: Uint8Array[] = [everyType()];
  {
    const w = new DnsWriter().header({ id: 1, flags: F.QR, qd: 1, an: 2 });
    w.question('www.example.com', 1);
    const an1 = w.offset;
    w.ptr(12).rr(5, 1, 60, (r) => r.name('web', 16));
    w.name('x', an1 + 12).rr(33, 1, 1, (r) => r.u16(1).u16(2).u16(3).ptr(16));
    corpus.push(w.build());
  }
  const rand = rng(0x5eed);
  const int = (n: number) => Math.floor(rand() * n);
  const reasons = new Map<string, number>();
  const ITER = 20000;
  const t0 = performance.now();
  for (let it = 0; it < ITER; it++) {
    let b: Uint8Array;
    if (it % 10 === 9) {
      // Pure noise, half of it with a plausible header.
      b = new Uint8Array(int(300));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      if (b.length >= 12 && it % 20 === 19) b.set([0, 1, 0, 0, 0, 1, 0, 3, 0, 1, 0, 1], 0);
    } else {
      b = corpus[it % corpus.length]!.slice();
      const edits = 1 + int(6);
      for (let e = 0; e < edits; e++) {
        const at = int(b.length);
        switch (int(4)) {
          case 0:
            b[at] = int(256);
            break;
          case 1: // a pointer to anywhere
            b[at] = 0xc0 | int(4);
            if (at + 1 < b.length) b[at + 1] = int(256);
            break;
          case 2:
            b[at] ^= 1 << int(8);
            break;
          default:
            b = b.subarray(0, at);
        }
      }
    }
    let r: DnsParseResult;
    try {
      r = parseDnsMessage(b, 0, b.length);
    } catch (e) {
      assert.fail(`iteration ${it} threw ${String(e)} on ${Buffer.from(b).toString('hex')}`);
    }
    if (r.error !== null) reasons.set(r.error, (reasons.get(r.error) ?? 0) + 1);
    if (r.message === null) {
      assert.notEqual(r.error, null);
      continue;
    }
    // Whatever was kept can be labelled and serialised.
    const labels = dnsLabels(r.message);
    for (const v of Object.values(labels)) assert.equal(typeof v, 'string');
    JSON.stringify(dnsMessageToJson(r.message, r.error));
  }
  const ms = performance.now() - t0;
  // Mutations reach the hostile cases too (a sanity check of the loop itself).
  for (const reason of ['truncated', 'pointer_forward', 'bad_rdata', 'short_header']) {
    assert.ok((reasons.get(reason) ?? 0) > 0, `no mutation produced ${reason}: ${JSON.stringify([...reasons])}`);
  }
  assert.ok(ms < 10_000, `mutation loop took ${ms} ms`);
});
