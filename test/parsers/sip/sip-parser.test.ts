// The sip parser plugin: config, routing, labels, payload forms, media
// registration in the FlowRegistry (offers, answers, re-offers, BYE), and
// malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { IPPROTO } from '../../../src/core/packet.ts';
import { isFlowRegistryAware } from '../../../src/flow/api.ts';
import { SharedFlowRegistry } from '../../../src/flow/shared-flow-registry.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { lookupPlugin } from '../../../src/plugin/registry.ts';
import { looksLikeSip, SipParser, SipPayload } from '../../../src/plugins/parser/sip/index.ts';
import { RtpParser } from '../../../src/plugins/parser/rtp/index.ts';
import { RtcpParser } from '../../../src/plugins/parser/rtcp/index.ts';
import { ALICE, BOB, bytesOf, CRLF, FakeRegistry, mediaPacket, request, response, sdpBody, sipPacket, sipText, type SdpSpec } from './sip-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };
const T0 = 1_700_000_000;
const CALL = 'a84b4c76e66710@pc33.atlanta.example.com';

function setup(config: Record<string, unknown> = {}): { p: SipParser; reg: FakeRegistry } {
  const reg = new FakeRegistry();
  const p = new SipParser();
  p.init(config, ctx);
  p.setFlowRegistry(reg);
  return { p, reg };
}

function handle(p: SipParser, text: string, tsSec = T0, tsNsec = 0) {
  const pkt = sipPacket(text, { tsSec, tsNsec });
  assert.equal(p.canHandle(pkt), true);
  return p.handle(pkt);
}

const OFFER: SdpSpec = { session: '192.0.2.10', media: [{ port: 49170, formats: '8 0 101', attrs: ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000'] }] };
const ANSWER: SdpSpec = { session: '192.0.2.20', origin: { user: 'bob', id: '777', version: '1', addr: '192.0.2.20' }, media: [{ port: 3456, formats: '8', attrs: ['a=rtpmap:8 PCMA/8000'] }] };

test('registered as parser "sip", FlowRegistry-aware', () => {
  const p = lookupPlugin('parser', 'sip')();
  assert.ok(p instanceof SipParser);
  assert.ok(isFlowRegistryAware(p));
});

test('config: defaults, durations, strict keys', () => {
  new SipParser().init({}, ctx);
  new SipParser().init({ ports: [5060], detect_any_port: false, media_stream_timeout: '10m', register_media: false, bye_grace: 0 }, ctx);
  new SipParser().init({ media_stream_timeout: 60, bye_grace: '2s' }, ctx);
  const bad: [unknown, RegExp][] = [
    [{ ports: [] }, /parser sip: config\.ports: /],
    [{ ports: [0] }, /config\.ports/],
    [{ ports: [70000] }, /config\.ports/],
    [{ detect_any_port: 'yes' }, /config\.detect_any_port/],
    [{ media_stream_timeout: 0 }, /config\.media_stream_timeout/],
    [{ media_stream_timeout: 'forever' }, /config\.media_stream_timeout/],
    [{ register_media: 1 }, /config\.register_media/],
    [{ bye_grace: -1 }, /config\.bye_grace/],
    [{ heuristic: true }, /parser sip: .*heuristic/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(
      () => new SipParser().init(cfg as Record<string, unknown>, ctx),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(cfg),
    );
  }
});

test('canHandle: UDP on a SIP port, or a SIP-looking payload on any port', () => {
  const { p } = setup();
  const inv = request('INVITE');
  assert.equal(p.canHandle(sipPacket(inv, { srcPort: 40000, dstPort: 5060 })), true);
  assert.equal(p.canHandle(sipPacket(inv, { srcPort: 5080, dstPort: 40000 })), true);
  assert.equal(p.canHandle(sipPacket('hello', { srcPort: 5061, dstPort: 40000 })), true);
  assert.equal(p.canHandle(sipPacket(inv, { srcPort: 40000, dstPort: 40001 })), true);
  assert.equal(p.canHandle(sipPacket(response(200, 'OK', 'INVITE'), { srcPort: 40000, dstPort: 40001 })), true);
  assert.equal(p.canHandle(sipPacket('GET / HTTP/1.1\r\n\r\n', { srcPort: 40000, dstPort: 80 })), false);
  assert.equal(p.canHandle(sipPacket(inv, { srcPort: 5060, dstPort: 5060, protocol: IPPROTO.TCP })), false);
  const { p: strict } = setup({ ports: [5070], detect_any_port: false });
  assert.equal(strict.canHandle(sipPacket(inv, { srcPort: 40000, dstPort: 5060 })), false);
  assert.equal(strict.canHandle(sipPacket(inv, { srcPort: 40000, dstPort: 5070 })), true);

  const looks = (s: string) => {
    const b = bytesOf(s);
    return looksLikeSip(b, 0, b.length);
  };
  for (const s of ['SIP/2.0 200 OK\r\n', 'INVITE sip:bob@x SIP/2.0', 'ACK sips:bob@x SIP/2.0', 'REGISTER SIP:registrar SIP/2.0', 'MESSAGE tel:+15551234 SIP/2.0', 'SUBSCRIBE sip:x@y SIP/2.0']) {
    assert.equal(looks(s), true, s);
  }
  for (const s of ['GET / HTTP/1.1\r\n\r\n', 'SIP/2.0200 OK\r\n', 'invite sip:bob@x SIP/2.0', 'IN sip:bob@x SIP/2.0', 'INVITE http://x SIP/2.0', 'INVITE sip', 'VERYLONGMETHODNAMEXX sip:x SIP/2.0', '\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00']) {
    assert.equal(looks(s), false, s);
  }
});

test('labels of a request and of a response', () => {
  const { p } = setup();
  const r = handle(p, request('INVITE', {}, sdpBody(OFFER)))!;
  assert.deepEqual(r.labels, {
    'sip.method': 'INVITE',
    'sip.call-id': CALL,
    'sip.from': ALICE,
    'sip.to': BOB,
    'sip.cseq': '314159 INVITE',
    'sip.user-agent': 'Otus-Test/1.0',
    'call-id': CALL,
  });
  assert.deepEqual(Object.keys(r.labels), ['sip.method', 'sip.call-id', 'sip.from', 'sip.to', 'sip.cseq', 'sip.user-agent', 'call-id']);
  const r2 = handle(p, response(200, 'OK', 'INVITE', {}, sdpBody(ANSWER)))!;
  assert.deepEqual(r2.labels, {
    'sip.status': '200',
    'sip.call-id': CALL,
    'sip.from': ALICE,
    'sip.to': BOB,
    'sip.cseq': '314159 INVITE',
    'call-id': CALL,
  });
  for (const k of [...Object.keys(r.labels), ...Object.keys(r2.labels)]) assert.match(k, /^[a-z0-9][a-z0-9.-]*$/);
});

test('payload: JSON form and the message bytes', () => {
  const { p } = setup();
  const body = sdpBody(OFFER);
  const text = request('INVITE', {}, body) + 'trailing junk';
  const pkt = sipPacket(text, { tsSec: T0 });
  const r = p.handle(pkt)!;
  assert.ok(r.payload instanceof SipPayload);
  assert.equal(r.payload.type, 'sip');
  const j = r.payload.toJSON() as Record<string, unknown>;
  assert.equal(j.start_line, `INVITE ${BOB} SIP/2.0`);
  assert.equal(j.method, 'INVITE');
  assert.equal(j.request_uri, BOB);
  assert.equal(j.call_id, CALL);
  assert.equal(j.from, ALICE);
  assert.equal(j.from_tag, '1928301774');
  assert.equal(j.to, BOB);
  assert.equal(j.to_tag, null);
  assert.equal(j.cseq, '314159 INVITE');
  assert.deepEqual(j.via, ['SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds']);
  assert.deepEqual(j.contact, ['<sip:alice@pc33.atlanta.example.com>']);
  assert.equal(j.user_agent, 'Otus-Test/1.0');
  assert.equal(j.content_type, 'application/sdp');
  assert.equal(j.content_length, body.length);
  assert.equal(j.body_length, body.length);
  assert.equal(j.truncated, false);
  assert.deepEqual(j.errors, []);
  assert.deepEqual((j.headers as string[][])[0], ['Via', 'SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds']);
  assert.equal((j.headers as string[][]).length, 10);
  const sdp = j.sdp as { media: { port: number; codec: string; connection: string }[] };
  assert.equal(sdp.media[0]!.port, 49170);
  assert.equal(sdp.media[0]!.codec, 'PCMA');
  assert.equal(sdp.media[0]!.connection, '192.0.2.10');
  assert.ok(!('status' in j));
  // JSON-serialisable as the reporters do it.
  assert.equal(JSON.parse(JSON.stringify(j)).call_id, CALL);

  // Binary: a copy of the message, without the bytes after Content-Length.
  const bin = r.payload.toBinary();
  assert.equal(Buffer.from(bin).toString(), text.slice(0, text.length - 'trailing junk'.length));
  bin[0] = 0;
  assert.equal(pkt.data[42], 'I'.charCodeAt(0));
  assert.equal(p.stats().trailing_bytes, 1);

  const r2 = p.handle(sipPacket(response(486, 'Busy Here', 'INVITE')))!;
  const j2 = r2.payload.toJSON() as Record<string, unknown>;
  assert.equal(j2.status, 486);
  assert.equal(j2.reason, 'Busy Here');
  assert.equal(j2.sdp, null);
  assert.ok(!('method' in j2) && !('request_uri' in j2));
});

test('an offer and its answer register RTP and RTCP endpoints with codec, call-id and TTL', () => {
  const { p, reg } = setup();
  handle(p, request('INVITE', {}, sdpBody(OFFER)), T0, 500_000_000);
  assert.deepEqual(reg.log, [`register 17/192.0.2.10/49170 rtp ${CALL} PCMA ttl=300`, `register 17/192.0.2.10/49171 rtcp ${CALL} PCMA ttl=300`]);
  assert.equal(reg.get('192.0.2.10', 49170)!.expiry, T0 + 0.5 + 300);
  handle(p, response(100, 'Trying', 'INVITE'));
  handle(p, response(180, 'Ringing', 'INVITE'));
  handle(p, response(200, 'OK', 'INVITE', {}, sdpBody(ANSWER)), T0 + 2);
  assert.deepEqual(reg.live(T0 + 2), ['17/192.0.2.10/49170', '17/192.0.2.10/49171', '17/192.0.2.20/3456', '17/192.0.2.20/3457']);
  assert.deepEqual(reg.get('192.0.2.20', 3457), { kind: 'rtcp', callId: CALL, codec: 'PCMA', expiry: T0 + 302 });
  const s = p.stats();
  assert.equal(s.with_sdp, 2);
  assert.equal(s.media_registered, 2);
  assert.equal(s.endpoints_registered, 4);
  assert.equal(s.messages, 4);
  assert.equal(s.requests, 1);
  assert.equal(s.responses, 3);

  // The TTL is media_stream_timeout.
  const { p: p2, reg: reg2 } = setup({ media_stream_timeout: '1m' });
  handle(p2, request('INVITE', {}, sdpBody(OFFER)));
  assert.equal(reg2.get('192.0.2.10', 49170)!.expiry, T0 + 60);
});

test('offers and answers in 183, ACK, UPDATE and PRACK are registered; others are not', () => {
  const cases: [string, boolean][] = [
    [response(183, 'Session Progress', 'INVITE', {}, sdpBody(ANSWER)), true],
    [request('ACK', {}, sdpBody(ANSWER)), true],
    [request('UPDATE', {}, sdpBody(ANSWER)), true],
    [request('PRACK', {}, sdpBody(ANSWER)), true],
    [response(200, 'OK', 'UPDATE', {}, sdpBody(ANSWER)), true],
    [response(200, 'OK', 'OPTIONS', {}, sdpBody(ANSWER)), false],
    [request('MESSAGE', {}, sdpBody(ANSWER)), false],
    [response(100, 'Trying', 'INVITE', {}, sdpBody(ANSWER)), false],
    [response(488, 'Not Acceptable Here', 'INVITE', {}, sdpBody(ANSWER)), false],
  ];
  for (const [text, registered] of cases) {
    const { p, reg } = setup();
    const r = handle(p, text);
    assert.ok(r !== null);
    assert.equal(reg.entries.size, registered ? 2 : 0, text.split(CRLF)[0]);
    assert.ok((r.payload.toJSON() as { sdp: unknown }).sdp !== null);
  }
});

test('IPv6 media, a=rtcp with and without address, rtcp-mux, port counts', () => {
  const { p, reg } = setup();
  const sdp = sdpBody({
    session: '2001:db8::10',
    media: [
      { port: 4000, attrs: ['a=rtcp:5000'] },
      { port: 4100, attrs: ['a=rtcp:5100 IN IP4 198.51.100.1'] },
      { port: 4200, attrs: ['a=rtcp:4200', 'a=rtcp-mux'] },
      { media: 'video', port: '4300/2', formats: '31' },
    ],
  });
  handle(p, request('INVITE', {}, sdp));
  assert.deepEqual(reg.log, [
    `register 17/2001:db8::10/4000 rtp ${CALL} PCMU ttl=300`,
    `register 17/2001:db8::10/5000 rtcp ${CALL} PCMU ttl=300`,
    `register 17/2001:db8::10/4100 rtp ${CALL} PCMU ttl=300`,
    `register 17/198.51.100.1/5100 rtcp ${CALL} PCMU ttl=300`,
    `register 17/2001:db8::10/4200 rtp ${CALL} PCMU ttl=300`,
    `register 17/2001:db8::10/4300 rtp ${CALL} H261 ttl=300`,
    `register 17/2001:db8::10/4301 rtcp ${CALL} H261 ttl=300`,
    `register 17/2001:db8::10/4302 rtp ${CALL} H261 ttl=300`,
    `register 17/2001:db8::10/4303 rtcp ${CALL} H261 ttl=300`,
  ]);
});

test('port 0, a=inactive, hold address, non-RTP and host-name media are not registered', () => {
  const { p, reg } = setup();
  const sdp = sdpBody({
    media: [
      { port: 0 },
      { port: 4000, attrs: ['a=inactive'] },
      { port: 4002, c: '0.0.0.0' },
      { media: 'image', port: 4004, proto: 'udptl', formats: 't38' },
      { port: 4006, c: 'media.example.com' },
      { port: 4008, attrs: ['a=sendonly'] },
      { port: 4010, attrs: ['a=recvonly'] },
    ],
  });
  handle(p, request('INVITE', {}, sdp));
  assert.deepEqual(reg.live(T0), ['17/192.0.2.10/4008', '17/192.0.2.10/4009', '17/192.0.2.10/4010', '17/192.0.2.10/4011']);
  const s = p.stats();
  assert.equal(s.media_inactive, 3);
  assert.equal(s.media_unregistrable, 2);
  assert.equal(s.media_registered, 2);
  // Session-level a=inactive applies to every media line.
  const { p: p2, reg: reg2 } = setup();
  handle(p2, request('INVITE', {}, sdpBody({ extra: ['a=inactive'], media: [{ port: 4000 }, { port: 4002 }] })));
  assert.equal(reg2.entries.size, 0);
});

test('a re-INVITE that moves media registers the new endpoints and retires the old ones', () => {
  const { p, reg } = setup({ bye_grace: 5 });
  handle(p, request('INVITE', { cseq: 1 }, sdpBody(OFFER)), T0);
  handle(p, response(200, 'OK', 'INVITE', { cseq: 1 }, sdpBody(ANSWER)), T0);
  // Alice moves her media (o= version up); Bob answers with the same SDP.
  const moved: SdpSpec = { ...OFFER, origin: { version: '2890844527' }, session: '192.0.2.11', media: [{ port: 50000, formats: '0' }] };
  handle(p, request('INVITE', { cseq: 2 }, sdpBody(moved)), T0 + 100);
  handle(p, response(200, 'OK', 'INVITE', { cseq: 2 }, sdpBody(ANSWER)), T0 + 100);
  assert.deepEqual(reg.get('192.0.2.11', 50000), { kind: 'rtp', callId: CALL, codec: 'PCMU', expiry: T0 + 400 });
  // The old endpoints linger for the grace period, then they are gone.
  assert.equal(reg.get('192.0.2.10', 49170)!.expiry, T0 + 105);
  assert.equal(reg.get('192.0.2.10', 49171)!.expiry, T0 + 105);
  assert.deepEqual(reg.live(T0 + 106), ['17/192.0.2.11/50000', '17/192.0.2.11/50001', '17/192.0.2.20/3456', '17/192.0.2.20/3457']);
  assert.equal(p.stats().endpoints_retired, 2);

  // The same SDP again (a retransmission, another leg): nothing is retired.
  handle(p, request('INVITE', { cseq: 2 }, sdpBody(moved)), T0 + 101);
  assert.equal(reg.get('192.0.2.11', 50000)!.expiry, T0 + 401);
  assert.equal(p.stats().endpoints_retired, 2);

  // Without an origin version going up, a different SDP only adds endpoints.
  const other: SdpSpec = { ...moved, media: [{ port: 52000 }] };
  handle(p, request('INVITE', { cseq: 3 }, sdpBody(other)), T0 + 102);
  assert.equal(reg.get('192.0.2.11', 50000)!.expiry, T0 + 401);
  assert.equal(reg.get('192.0.2.11', 52000)!.expiry, T0 + 402);

  // An endpoint another call has taken over since is left alone.
  reg.register(17, 4, Uint8Array.of(192, 0, 2, 11), 52000, { callId: 'someone-else', codec: 'G722', kind: 'rtp' }, 300, T0 + 103);
  handle(p, request('INVITE', { cseq: 4 }, sdpBody({ ...moved, origin: { version: '2890844528' }, media: [{ port: 54000 }] })), T0 + 104);
  assert.deepEqual(reg.get('192.0.2.11', 52000), { kind: 'rtp', callId: 'someone-else', codec: 'G722', expiry: T0 + 403 });
  assert.equal(reg.get('192.0.2.11', 50000)!.expiry, T0 + 109);
});

test('BYE: labelled like any request, then the call is released after the grace period', () => {
  const { p, reg } = setup({ bye_grace: 5 });
  handle(p, request('INVITE', {}, sdpBody(OFFER)), T0);
  handle(p, response(200, 'OK', 'INVITE', {}, sdpBody(ANSWER)), T0);
  assert.equal(reg.live(T0).length, 4);
  const bye = handle(p, request('BYE', { cseq: 314160 }), T0 + 60)!;
  assert.deepEqual(bye.labels, {
    'sip.method': 'BYE',
    'sip.call-id': CALL,
    'sip.from': ALICE,
    'sip.to': BOB,
    'sip.cseq': '314160 BYE',
    'sip.user-agent': 'Otus-Test/1.0',
    'call-id': CALL,
  });
  // Every endpoint now expires at BYE + grace: trailing RTP and the RTCP BYE are still correlated.
  for (const [ip, port] of [
    ['192.0.2.10', 49170],
    ['192.0.2.10', 49171],
    ['192.0.2.20', 3456],
    ['192.0.2.20', 3457],
  ] as const) {
    assert.equal(reg.get(ip, port)!.expiry, T0 + 65, `${ip}:${port}`);
  }
  assert.equal(reg.lookup(mediaPacket(Uint8Array.of(192, 0, 2, 20), 3457, T0 + 61))!.kind, 'rtcp');
  assert.equal(p.stats().pending_releases, 1);
  assert.equal(p.stats().calls_released, 1);
  // The 200 OK to the BYE changes nothing.
  handle(p, response(200, 'OK', 'BYE', { cseq: 314160 }), T0 + 60);
  assert.equal(reg.log.filter((l) => l.startsWith('unregisterCall')).length, 0);
  // A later SIP packet after the grace period runs the release (or, on a
  // quiet link, the pipeline's idle clock: the next test).
  handle(p, request('OPTIONS', { callId: 'ping' }), T0 + 66);
  assert.deepEqual(
    reg.log.filter((l) => l.startsWith('unregisterCall')),
    [`unregisterCall ${CALL}`],
  );
  assert.equal(reg.entries.size, 0);
  assert.equal(p.stats().pending_releases, 0);
  assert.equal(p.stats().endpoints_released, 4);
});

test('on a quiet link the idle clock runs the release once the grace has passed (expire)', () => {
  const { p, reg } = setup({ bye_grace: 5 });
  handle(p, request('INVITE', {}, sdpBody(OFFER)), T0);
  handle(p, response(200, 'OK', 'INVITE', {}, sdpBody(ANSWER)), T0);
  handle(p, request('BYE', { cseq: 314160 }), T0 + 60);
  p.expire(T0 + 64);
  assert.equal(reg.entries.size, 4, 'within the grace: kept');
  p.expire(T0 + 65.5);
  assert.deepEqual(reg.log.filter((l) => l.startsWith('unregisterCall')), [`unregisterCall ${CALL}`]);
  assert.equal(reg.entries.size, 0);
  assert.equal(p.stats().pending_releases, 0);
});

test('BYE with bye_grace 0 releases at once; BYE seen by another worker still releases', () => {
  const { p, reg } = setup({ bye_grace: 0 });
  handle(p, request('INVITE', {}, sdpBody(OFFER)), T0);
  handle(p, request('BYE'), T0 + 10);
  assert.equal(reg.log.at(-1), `unregisterCall ${CALL}`);
  assert.equal(reg.entries.size, 0);

  // Worker 0 saw the INVITE, worker 1 sees the BYE (another 5-tuple).
  const shared = new FakeRegistry();
  const w0 = new SipParser();
  const w1 = new SipParser();
  for (const w of [w0, w1]) {
    w.init({ bye_grace: 5 }, ctx);
    w.setFlowRegistry(shared);
  }
  handle(w0, request('INVITE', {}, sdpBody(OFFER)), T0);
  handle(w1, request('BYE'), T0 + 10);
  assert.equal(shared.entries.size, 2); // still there during the grace period
  handle(w1, request('OPTIONS', { callId: 'later' }), T0 + 14);
  assert.equal(shared.entries.size, 2);
  handle(w1, request('OPTIONS', { callId: 'later' }), T0 + 15);
  assert.equal(shared.entries.size, 0);

  // stop() leaves waiting releases alone: another worker may still be
  // handling the call's last media, and the registry goes with the task.
  handle(w0, request('INVITE', { callId: 'c2' }, sdpBody(OFFER)), T0 + 20);
  handle(w1, request('BYE', { callId: 'c2' }), T0 + 21);
  w1.stop();
  assert.equal(shared.entries.size, 2);
});

test('register_media: false parses SDP but leaves the registry alone', () => {
  const { p, reg } = setup({ register_media: false });
  const r = handle(p, request('INVITE', {}, sdpBody(OFFER)))!;
  handle(p, request('BYE'));
  assert.equal(reg.log.length, 0);
  assert.ok((r.payload.toJSON() as { sdp: unknown }).sdp !== null);
  // Without a registry at all.
  const q = new SipParser();
  q.init({}, ctx);
  assert.ok(handle(q, request('INVITE', {}, sdpBody(OFFER))) !== null);
  assert.ok(handle(q, request('BYE')) !== null);
});

test('with the shared FlowRegistry: the rtp and rtcp parsers label the call media', () => {
  const reg = SharedFlowRegistry.create(64);
  const sip = new SipParser();
  sip.init({}, ctx);
  sip.setFlowRegistry(reg);
  const rtp = new RtpParser();
  rtp.init({}, ctx);
  rtp.setFlowRegistry(reg);
  const rtcp = new RtcpParser();
  rtcp.init({ heuristic: false }, ctx);
  rtcp.setFlowRegistry(reg);
  handle(sip, request('INVITE', {}, sdpBody(OFFER)), T0);
  handle(sip, response(200, 'OK', 'INVITE', {}, sdpBody(ANSWER)), T0);

  const rtpPkt = mediaPacket(Uint8Array.of(192, 0, 2, 20), 3456, T0 + 1);
  const rtpBytes = Uint8Array.of(0x80, 8, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, ...new Array(160).fill(0xd5));
  rtpPkt.data = rtpBytes;
  rtpPkt.payloadOffset = 0;
  rtpPkt.payloadLength = rtpBytes.length;
  rtpPkt.frameNo = 1;
  assert.equal(rtp.canHandle(rtpPkt), true);
  const r = rtp.handle(rtpPkt)!;
  assert.equal(r.labels['call-id'], CALL);
  assert.equal(r.labels.codec, 'PCMA');

  const rtcpPkt = mediaPacket(Uint8Array.of(192, 0, 2, 10), 49171, T0 + 61);
  const bye = Uint8Array.of(0x81, 203, 0, 1, 0xde, 0xad, 0xbe, 0xef);
  rtcpPkt.data = bye;
  rtcpPkt.payloadOffset = 0;
  rtcpPkt.payloadLength = bye.length;
  rtcpPkt.frameNo = 2;
  // After the SIP BYE, within the grace period, the RTCP BYE is still correlated.
  handle(sip, request('BYE'), T0 + 60);
  assert.equal(rtcp.canHandle(rtcpPkt), true);
  assert.equal(rtcp.handle(rtcpPkt)!.labels['call-id'], CALL);
  // After it, the call is gone.
  handle(sip, request('OPTIONS', { callId: 'x' }), T0 + 70);
  rtcpPkt.frameNo = 3;
  rtcpPkt.tsSec = T0 + 70;
  assert.equal(rtcp.canHandle(rtcpPkt), false);
  assert.equal(reg.size(), 0);
});

test('malformed messages are counted by reason; garbage and keep-alives return null', () => {
  const { p, reg } = setup();
  const none: string[] = [
    'garbage without line end',
    'HELLO WORLD\r\n\r\n',
    'SIP/2.0 999 Nope\r\nCall-ID: x\r\n\r\n',
    'OPTIONS sip:x@y SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\n', // no Call-ID: not reported
  ];
  for (const s of none) assert.equal(p.handle(sipPacket(s)), null, s);
  assert.equal(p.handle(sipPacket('\r\n\r\n')), null);
  assert.equal(p.handle(sipPacket('')), null);
  // A usable start line and Call-ID: reported with what could be read.
  const partial = sipText('INVITE sip:bob@x SIP/2.0', ['Call-ID: partial', 'no colon here', 'Content-Type: application/sdp', 'Content-Length: 5000'], sdpBody({ media: [{ port: 99999 }, { port: 4000, c: '1.2.3' }] }));
  const r = p.handle(sipPacket(partial))!;
  assert.deepEqual(r.labels, { 'sip.method': 'INVITE', 'sip.call-id': 'partial', 'call-id': 'partial' });
  assert.deepEqual((r.payload.toJSON() as { errors: string[] }).errors, [
    'header_without_colon',
    'missing_from',
    'missing_to',
    'missing_cseq',
    'truncated_body',
    'sdp_bad_connection',
    'sdp_bad_media',
  ]);
  assert.equal(reg.entries.size, 0);
  const s = p.stats();
  assert.equal(s.malformed_no_crlf, 1);
  assert.equal(s.malformed_bad_start_line, 1);
  assert.equal(s.malformed_bad_status_code, 1);
  assert.equal(s.malformed_missing_call_id, 1);
  assert.equal(s.malformed_header_without_colon, 1);
  assert.equal(s.malformed_truncated_body, 1);
  assert.equal(s.malformed_sdp_bad_connection, 1);
  assert.equal(s.malformed_sdp_bad_media, 1);
  assert.equal(s.malformed_missing_from, 1);
  assert.equal(s.rejected, 4);
  assert.equal(s.keepalives, 2);
  assert.equal(s.messages, 1);
  assert.equal(s.partial, 1);
});

test('a re-INVITE putting the call on hold (a=inactive) retires the held side', () => {
  const { p, reg } = setup({ bye_grace: 2 });
  handle(p, request('INVITE', { cseq: 1 }, sdpBody(OFFER)), T0);
  handle(p, response(200, 'OK', 'INVITE', { cseq: 1 }, sdpBody(ANSWER)), T0);
  const hold: SdpSpec = { ...OFFER, origin: { version: '2890844527' }, media: [{ port: 49170, attrs: ['a=inactive'] }] };
  handle(p, request('INVITE', { cseq: 2 }, sdpBody(hold)), T0 + 30);
  assert.equal(reg.get('192.0.2.10', 49170)!.expiry, T0 + 32);
  assert.equal(reg.get('192.0.2.20', 3456)!.expiry, T0 + 300);
  // Resumed: registered again for the full TTL.
  handle(p, request('INVITE', { cseq: 3 }, sdpBody({ ...OFFER, origin: { version: '2890844528' } })), T0 + 60);
  assert.equal(reg.get('192.0.2.10', 49170)!.expiry, T0 + 360);
});

test('o= versions are compared exactly up to 25 digits; the origin is told apart without its version', async () => {
  const { versionGreater } = await import('../../../src/plugins/parser/sip/media-tracker.ts');
  const { parseSdp } = await import('../../../src/plugins/parser/sip/sdp.ts');
  const v = (s: string) => {
    const b = bytesOf(sdpBody({ origin: { version: s } }));
    const x = parseSdp(b, 0, b.length);
    return [x.versionHigh, x.versionLow, x.originHash] as const;
  };
  const [h1, l1, o1] = v('18446744073709551614');
  const [h2, l2, o2] = v('18446744073709551615');
  assert.equal(versionGreater(h2, l2, h1, l1), true);
  assert.equal(versionGreater(h1, l1, h2, l2), false);
  assert.equal(versionGreater(h1, l1, h1, l1), false);
  assert.equal(o1, o2);
  const [h3, l3] = v('9');
  const [h4, l4] = v('10');
  assert.equal(versionGreater(h4, l4, h3, l3), true);
  const [h5, l5] = v('abc');
  assert.equal(h5, -1);
  assert.equal(versionGreater(h5, l5, h3, l3), false);
  const other = parseSdp(bytesOf(sdpBody({ origin: { user: 'bob' } })), 0, sdpBody({ origin: { user: 'bob' } }).length);
  assert.notEqual(other.originHash, o1);
  assert.notEqual(o1, 0);
});

test('the call tracker is bounded by max_tracked_calls and forgets expired calls', () => {
  const { p, reg } = setup({ max_tracked_calls: 100, media_stream_timeout: 10 });
  for (let i = 0; i < 250; i++) handle(p, request('INVITE', { callId: `call-${i}` }, sdpBody({ media: [{ port: 10000 + 2 * i }] })), T0 + i * 0.01);
  const s = p.stats();
  assert.ok(s.tracked_calls <= 100, String(s.tracked_calls));
  assert.ok(s.tracked_evicted > 0);
  // A forgotten call's BYE still releases it, through unregisterCall after the grace period.
  handle(p, request('BYE', { callId: 'call-0' }), T0 + 3);
  handle(p, request('OPTIONS', { callId: 'ping' }), T0 + 9);
  assert.equal(reg.get('192.0.2.10', 10000), undefined);
  assert.ok(reg.get('192.0.2.10', 10002) !== undefined);
  // Calls whose endpoints expired are swept out (a pass every max(256, tracked) registrations).
  const { p: q } = setup({ media_stream_timeout: 10 });
  for (let i = 0; i < 1000; i++) {
    handle(q, request('INVITE', { callId: `late-${i}` }, sdpBody({ media: [{ port: 20000 + 2 * i }] })), T0 + i);
    assert.ok(q.stats().tracked_calls <= 256 + 11, `${i}: ${q.stats().tracked_calls}`);
  }
  assert.equal(q.stats().tracked_evicted, 0);
});

test('toJsonText is JSON.stringify(toJSON()): escapes, UTF-8, folded values, rtpmap key order and repeats', () => {
  const { p } = setup();
  const sdp = sdpBody({
    session: '192.0.2.10',
    origin: { user: 'al"ice\\', addr: '192.0.2.10' },
    media: [
      // Payload types out of order and one repeated: JSON.stringify orders integer-like keys, the last value wins.
      { port: 49170, formats: '101 8 0', attrs: ['a=rtpmap:101 telephone-event/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/16000', 'a=rtcp:49171'] },
      { media: 'video', port: 51372, formats: '96 97', c: '2001:db8::5', attrs: ['a=rtpmap:97 H264/90000', 'a=rtpmap:96 VP8/90000/2', 'a=inactive'] },
      { port: 0, formats: '0', attrs: [] },
    ],
  });
  const messages = [
    request('INVITE', { extraHeaders: ['Subject: caf\u00e9 "quoted" \\ back\tslash', 'X-Folded: one,', '  two'] }, sdp),
    response(183, 'Session \u00c9tat', 'INVITE', {}, sdp),
    request('BYE'),
  ];
  for (const text of messages) {
    const out = handle(p, text)!;
    assert.ok(out.payload.toJsonText);
    assert.equal(out.payload.toJsonText(), JSON.stringify(out.payload.toJSON()));
  }
  // Invalid UTF-8 in a header value.
  const bytes = Buffer.from(request('OPTIONS', { extraHeaders: ['X-Bad: a\u00ffb'] }), 'latin1');
  const out = p.handle(sipPacket(bytes))!;
  assert.equal(out.payload.toJsonText!(), JSON.stringify(out.payload.toJSON()));
});
