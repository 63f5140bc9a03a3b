// parseSipMessage: start lines, headers (compact, case, folding, lists),
// Content-Length bounding, multipart bodies, and what malformed input yields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyKind, parseSipMessage, SipHeader, SipMethod, type SipMessage } from '../../../src/plugins/parser/sip/message.ts';
import { reasonsOf } from '../../../src/plugins/parser/sip/reasons.ts';
import { bytesOf, CRLF, request, response, sdpBody, sipText } from './sip-wire.ts';

function parse(s: string | Uint8Array, pad = 0): { m: SipMessage | null; reasons: string[] } {
  const bytes = typeof s === 'string' ? bytesOf(s) : s;
  // Parse at an offset inside a larger buffer, as the pipeline does.
  const buf = new Uint8Array(bytes.length + 17 + pad);
  buf.set(bytes, 7);
  const r = parseSipMessage(buf, 7, bytes.length);
  return { m: r.message, reasons: reasonsOf(r.errors) };
}

function ok(s: string | Uint8Array): SipMessage {
  const { m, reasons } = parse(s);
  assert.ok(m !== null, `rejected: ${reasons.join(',')}`);
  assert.deepEqual(reasons, []);
  return m;
}

function headers(m: SipMessage): [string, string][] {
  return Array.from({ length: m.headerCount }, (_, i) => [m.headerName(i), m.headerValue(i)]);
}

test('requests of every common method', () => {
  const methods: [string, number][] = [
    ['INVITE', SipMethod.INVITE],
    ['ACK', SipMethod.ACK],
    ['BYE', SipMethod.BYE],
    ['CANCEL', SipMethod.CANCEL],
    ['REGISTER', SipMethod.REGISTER],
    ['OPTIONS', SipMethod.OPTIONS],
    ['PRACK', SipMethod.PRACK],
    ['SUBSCRIBE', SipMethod.SUBSCRIBE],
    ['NOTIFY', SipMethod.NOTIFY],
    ['PUBLISH', SipMethod.PUBLISH],
    ['INFO', SipMethod.INFO],
    ['REFER', SipMethod.REFER],
    ['MESSAGE', SipMethod.MESSAGE],
    ['UPDATE', SipMethod.UPDATE],
    ['FOOBAR', SipMethod.OTHER],
  ];
  for (const [name, id] of methods) {
    const text = request(name, { cseq: 7 });
    const m = ok(text);
    assert.equal(m.isRequest, true);
    assert.equal(m.method, name);
    assert.equal(m.methodId, id);
    assert.equal(m.requestUri, 'sip:bob@biloxi.example.com');
    assert.equal(m.startLine, `${name} sip:bob@biloxi.example.com SIP/2.0`);
    assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
    assert.equal(m.fromUri, 'sip:alice@atlanta.example.com');
    assert.equal(m.toUri, 'sip:bob@biloxi.example.com');
    assert.equal(m.cseq, `7 ${name}`);
    assert.equal(m.cseqNumber, 7);
    assert.equal(m.cseqMethodId, id);
    assert.equal(m.userAgent, 'Otus-Test/1.0');
    assert.equal(m.contentLength, 0);
    assert.equal(m.bodyLength, 0);
    assert.equal(m.length, Buffer.byteLength(text));
  }
});

test('responses: status, reason, CSeq method', () => {
  const cases: [number, string, string][] = [
    [100, 'Trying', 'INVITE'],
    [180, 'Ringing', 'INVITE'],
    [183, 'Session Progress', 'INVITE'],
    [200, 'OK', 'BYE'],
    [202, 'Accepted', 'REFER'],
    [302, 'Moved Temporarily', 'INVITE'],
    [401, 'Unauthorized', 'REGISTER'],
    [486, 'Busy Here', 'INVITE'],
    [503, 'Service Unavailable', 'OPTIONS'],
    [603, 'Decline', 'INVITE'],
  ];
  for (const [status, reason, method] of cases) {
    const m = ok(response(status, reason, method));
    assert.equal(m.isRequest, false);
    assert.equal(m.method, '');
    assert.equal(m.status, status);
    assert.equal(m.reason, reason);
    assert.equal(m.cseqMethod, method);
    assert.equal(m.startLine, `SIP/2.0 ${status} ${reason}`);
  }
  // An empty reason phrase, and lower-case "sip/2.0", are accepted.
  const m = ok(sipText('sip/2.0 200', ['Call-ID: x', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 INVITE']));
  assert.equal(m.status, 200);
  assert.equal(m.reason, '');
});

test('compact header forms and case-insensitive names', () => {
  const m = ok(
    sipText('INVITE sip:bob@biloxi.example.com SIP/2.0', [
      'v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8',
      'i: compact-1@host',
      'f: "Alice" <sip:alice@atlanta.example.com>;tag=88sja8x',
      't: sip:bob@biloxi.example.com',
      'cSeQ: 2 INVITE',
      'm: <sip:alice@pc33.atlanta.example.com>',
      'USER-AGENT: Phone 2',
      'k: 100rel',
      's: hello',
      'c: application/sdp',
      'l: 0',
    ]),
  );
  assert.equal(m.callId, 'compact-1@host');
  assert.equal(m.fromUri, 'sip:alice@atlanta.example.com');
  assert.equal(m.toUri, 'sip:bob@biloxi.example.com');
  assert.equal(m.cseq, '2 INVITE');
  assert.equal(m.userAgent, 'Phone 2');
  assert.equal(m.contentLength, 0);
  assert.deepEqual(m.listValues(SipHeader.VIA), ['SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8']);
  assert.deepEqual(m.listValues(SipHeader.CONTACT), ['<sip:alice@pc33.atlanta.example.com>']);
  assert.equal(m.firstValue(SipHeader.CONTENT_TYPE), 'application/sdp');
  assert.equal(m.tag(SipHeader.FROM), '88sja8x');
  assert.equal(m.tag(SipHeader.TO), null);
  // Names are kept as on the wire, in order.
  assert.deepEqual(
    headers(m).map(([n]) => n),
    ['v', 'i', 'f', 't', 'cSeQ', 'm', 'USER-AGENT', 'k', 's', 'c', 'l'],
  );
  // Whitespace before the colon is allowed (HCOLON).
  const m2 = ok(sipText('OPTIONS sip:x@y SIP/2.0', ['Call-ID  : spaced', 'From:<sip:a@b>', 'To:sip:c@d;tag=9', 'CSeq:1 OPTIONS']));
  assert.equal(m2.callId, 'spaced');
  assert.equal(m2.fromUri, 'sip:a@b');
  assert.equal(m2.toUri, 'sip:c@d');
  assert.equal(m2.tag(SipHeader.TO), '9');
});

test('header folding: continuation lines join with one space', () => {
  const m = ok(
    sipText('INVITE sip:bob@biloxi.example.com SIP/2.0', [
      'Call-ID: folded',
      'From: "Alice Liddell"',
      '  <sip:alice@atlanta.example.com>',
      '\t;tag=1928301774',
      'To:',
      ' <sip:bob@biloxi.example.com>',
      'CSeq: 1',
      '   INVITE',
      'Subject: I know you\'re there,',
      '         pick up the phone',
      '         and talk to me!',
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,',
      '  SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
    ]),
  );
  assert.equal(m.fromUri, 'sip:alice@atlanta.example.com');
  assert.equal(m.tag(SipHeader.FROM), '1928301774');
  assert.equal(m.toUri, 'sip:bob@biloxi.example.com');
  assert.equal(m.cseq, '1 INVITE');
  const h = headers(m);
  assert.deepEqual(h[1], ['From', '"Alice Liddell" <sip:alice@atlanta.example.com> ;tag=1928301774']);
  assert.deepEqual(h[2], ['To', '<sip:bob@biloxi.example.com>']);
  assert.deepEqual(h[4], ['Subject', "I know you're there, pick up the phone and talk to me!"]);
  assert.deepEqual(m.listValues(SipHeader.VIA), ['SIP/2.0/UDP a.example.com;branch=z9hG4bK1', 'SIP/2.0/UDP b.example.com;branch=z9hG4bK2']);
});

test('repeated and comma-joined list headers; commas in quotes and <...> do not separate', () => {
  const m = ok(
    sipText('INVITE sip:bob@biloxi.example.com SIP/2.0', [
      'Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/UDP p2.example.com;branch=z9hG4bK2',
      'Call-ID: lists',
      'Via: SIP/2.0/UDP p3.example.com;branch=z9hG4bK3;received=192.0.2.1',
      'From: "Doe, John <jd>" <sip:john@example.com>;tag=1',
      'To: <sip:bob@biloxi.example.com>',
      'CSeq: 1 INVITE',
      'Contact: "Doe, John" <sip:john@192.0.2.7;transport=udp>;q=0.7, <sip:john@[2001:db8::7]>;expires=60',
      'Contact: "Esc \\" , quote" <sip:x@y,z>',
    ]),
  );
  assert.deepEqual(m.listValues(SipHeader.VIA), [
    'SIP/2.0/UDP p1.example.com;branch=z9hG4bK1',
    'SIP/2.0/UDP p2.example.com;branch=z9hG4bK2',
    'SIP/2.0/UDP p3.example.com;branch=z9hG4bK3;received=192.0.2.1',
  ]);
  assert.deepEqual(m.listValues(SipHeader.CONTACT), [
    '"Doe, John" <sip:john@192.0.2.7;transport=udp>;q=0.7',
    '<sip:john@[2001:db8::7]>;expires=60',
    '"Esc \\" , quote" <sip:x@y,z>',
  ]);
  // The display name's '<' inside quotes is not the URI's.
  assert.equal(m.fromUri, 'sip:john@example.com');
  assert.equal(m.tag(SipHeader.FROM), '1');
  // Repeated headers stay separate entries of the header list.
  assert.equal(headers(m).filter(([n]) => n === 'Via').length, 2);
});

test('Content-Length bounds the body: exact, shorter, longer, missing, not a number', () => {
  const body = sdpBody();
  const base = (cl: string | null) =>
    sipText(
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      ['Call-ID: cl', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'CSeq: 1 INVITE', 'Content-Type: application/sdp', ...(cl === null ? [] : [`Content-Length: ${cl}`])],
      body,
    );
  const headerLen = Buffer.byteLength(base('0')) - body.length - 'Content-Length: 0\r\n'.length;

  let m = ok(base(String(body.length)));
  assert.equal(m.bodyLength, body.length);
  assert.equal(m.trailing, 0);
  assert.equal(m.bodyKind, BodyKind.SDP);
  assert.equal(m.sdpLength, body.length);

  // Shorter: the body is cut there; the rest is trailing (discarded).
  m = ok(base('10'));
  assert.equal(m.bodyLength, 10);
  assert.equal(m.trailing, body.length - 10);
  assert.equal(m.length, Buffer.byteLength(base('10')) - (body.length - 10));

  // Longer: truncated, what is there is the body.
  let r = parse(base(String(body.length + 100)));
  assert.deepEqual(r.reasons, ['truncated_body']);
  assert.equal(r.m!.truncated, true);
  assert.equal(r.m!.bodyLength, body.length);
  assert.equal(r.m!.contentLength, body.length + 100);

  // Missing: the rest of the datagram.
  m = ok(base(null));
  assert.equal(m.contentLength, -1);
  assert.equal(m.bodyLength, body.length);
  assert.equal(m.bodyOffset - 7, headerLen);

  // Not a number: counted, the rest of the datagram.
  r = parse(base('12abc'));
  assert.deepEqual(r.reasons, ['bad_content_length']);
  assert.equal(r.m!.bodyLength, body.length);
  r = parse(base(''));
  assert.deepEqual(r.reasons, ['bad_content_length']);
});

test('multipart/mixed body: the application/sdp part is found by its boundary', () => {
  const sdp = sdpBody({ media: [{ port: 3456, formats: '8', attrs: ['a=rtpmap:8 PCMA/8000'] }] });
  const isup = 'binary-ish ISUP bytes\r\n--not-the-boundary\r\n';
  const body =
    'preamble to ignore' +
    CRLF +
    '--unique-boundary-1' +
    CRLF +
    'Content-Type: application/isup;version=itu-t92+' +
    CRLF +
    'Content-Disposition: signal;handling=optional' +
    CRLF +
    CRLF +
    isup +
    CRLF +
    '--unique-boundary-1  ' +
    CRLF +
    'content-type: Application/SDP' +
    CRLF +
    CRLF +
    sdp +
    CRLF +
    '--unique-boundary-1--' +
    CRLF;
  const text = sipText(
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    ['Call-ID: mp', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'CSeq: 1 INVITE', 'Content-Type: multipart/mixed; boundary="unique-boundary-1"', 'MIME-Version: 1.0', `Content-Length: ${body.length}`],
    body,
  );
  const bytes = bytesOf(text);
  const r = parseSipMessage(bytes, 0, bytes.length);
  const m = r.message!;
  assert.equal(r.errors, 0);
  assert.equal(m.bodyKind, BodyKind.MULTIPART_SDP);
  assert.equal(Buffer.from(bytes.subarray(m.sdpOffset, m.sdpOffset + m.sdpLength)).toString(), sdp);

  // Unquoted boundary, compact Content-Type inside the part.
  const body2 = `--b1${CRLF}c: application/sdp${CRLF}${CRLF}${sdp}${CRLF}--b1--`;
  const m2 = ok(sipText('INVITE sip:x@y SIP/2.0', ['Call-ID: mp2', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 INVITE', 'Content-Type: multipart/mixed;boundary=b1'], body2));
  assert.equal(m2.bodyKind, BodyKind.MULTIPART_SDP);
  assert.equal(m2.sdpLength, sdp.length);

  // No boundary parameter; no delimiter at all; no close delimiter.
  const bad = (ct: string, b: string) => parse(sipText('INVITE sip:x@y SIP/2.0', ['Call-ID: mp3', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 INVITE', `Content-Type: ${ct}`], b));
  assert.deepEqual(bad('multipart/mixed', body2).reasons, ['bad_multipart']);
  assert.deepEqual(bad('multipart/mixed;boundary=zz', body2).reasons, ['bad_multipart']);
  const open = bad('multipart/mixed;boundary=b1', `--b1${CRLF}Content-Type: application/sdp${CRLF}${CRLF}${sdp}`);
  assert.deepEqual(open.reasons, ['bad_multipart']);
  assert.equal(open.m!.bodyKind, BodyKind.MULTIPART_SDP);
  assert.equal(open.m!.sdpLength, sdp.length);
  // A multipart body without SDP.
  const noSdp = ok(sipText('INVITE sip:x@y SIP/2.0', ['Call-ID: mp4', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 INVITE', 'Content-Type: multipart/mixed;boundary=b1'], `--b1${CRLF}Content-Type: text/plain${CRLF}${CRLF}hi${CRLF}--b1--${CRLF}`));
  assert.equal(noSdp.bodyKind, BodyKind.OTHER);
  assert.equal(noSdp.sdpOffset, -1);
});

test('bodies: no Content-Type but an SDP first line; other types; Content-Encoding', () => {
  const sdp = sdpBody();
  const hdr = ['Call-ID: b', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 INVITE'];
  assert.equal(ok(sipText('INVITE sip:x@y SIP/2.0', hdr, sdp)).bodyKind, BodyKind.SDP);
  assert.equal(ok(sipText('INVITE sip:x@y SIP/2.0', hdr, 'hello')).bodyKind, BodyKind.OTHER);
  assert.equal(ok(sipText('MESSAGE sip:x@y SIP/2.0', [...hdr, 'Content-Type: text/plain'], sdp)).bodyKind, BodyKind.OTHER);
  assert.equal(ok(sipText('INVITE sip:x@y SIP/2.0', [...hdr, 'Content-Type: application/sdp ; charset=utf-8'], sdp)).bodyKind, BodyKind.SDP);
  assert.equal(ok(sipText('INVITE sip:x@y SIP/2.0', [...hdr, 'Content-Type: application/sdp', 'e: gzip'], sdp)).bodyKind, BodyKind.ENCODED);
  assert.equal(ok(sipText('INVITE sip:x@y SIP/2.0', [...hdr, 'Content-Type: application/sdp', 'Content-Encoding: identity'], sdp)).bodyKind, BodyKind.SDP);
});

test('malformed start lines are rejected with a reason', () => {
  const hdr = [CRLF, 'Call-ID: x', CRLF, CRLF].join('');
  const cases: [string, string][] = [
    ['INVITE sip:bob@example.com SIP/2.0', 'no_crlf'], // no line end at all
    ['', 'no_crlf'],
    ['HELLO' + hdr, 'bad_start_line'],
    ['INVITE' + hdr, 'bad_start_line'],
    ['INVITE  SIP/2.0' + hdr, 'bad_start_line'],
    ['INVITE bob SIP/2.0' + hdr, 'bad_start_line'], // no scheme
    ['INVITE sip:bob@example.com' + hdr, 'bad_start_line'], // no version
    ['INV{TE sip:bob@example.com SIP/2.0' + hdr, 'bad_start_line'],
    ['INVITE sip:bob@example.com SIP/3.0' + hdr, 'bad_version'],
    ['INVITE sip:bob@example.com HTTP/1.1' + hdr, 'bad_version'],
    ['SIP/2.1 200 OK' + hdr, 'bad_version'],
    ['SIP/2.0 20 OK' + hdr, 'bad_status_code'],
    ['SIP/2.0 2000 OK' + hdr, 'bad_status_code'],
    ['SIP/2.0 099 Low' + hdr, 'bad_status_code'],
    ['SIP/2.0 700 High' + hdr, 'bad_status_code'],
    ['SIP/2.0 2x0 OK' + hdr, 'bad_status_code'],
    ['SIP/2.0' + hdr, 'bad_status_code'],
    ['\x00\x01\x02\x03\r\n', 'bad_start_line'],
  ];
  for (const [text, reason] of cases) {
    const r = parse(text);
    assert.equal(r.m, null, JSON.stringify(text));
    assert.deepEqual(r.reasons, [reason], JSON.stringify(text));
  }
});

test('malformed headers are skipped and counted; the rest of the message is kept', () => {
  const r = parse(
    sipText('INVITE sip:bob@example.com SIP/2.0', [
      ' orphan continuation',
      'Call-ID: kept',
      'This line has no colon',
      'Bad Name: with a space',
      ': empty name',
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>',
      'CSeq: one INVITE',
      'Content-Length: 0',
    ]),
  );
  assert.ok(r.m !== null);
  assert.deepEqual(r.reasons, ['header_without_colon', 'bad_header_name', 'bad_folding', 'bad_cseq']);
  assert.equal(r.m.callId, 'kept');
  assert.equal(r.m.cseq, null);
  assert.deepEqual(
    headers(r.m).map(([n]) => n),
    ['Call-ID', 'From', 'To', 'CSeq', 'Content-Length'],
  );
  // Missing mandatory headers.
  const r2 = parse(sipText('OPTIONS sip:x@y SIP/2.0', ['Via: SIP/2.0/UDP h;branch=z9hG4bK1']));
  assert.deepEqual(r2.reasons, ['missing_call_id', 'missing_from', 'missing_to', 'missing_cseq']);
  assert.equal(r2.m!.callId, null);
  // Empty Call-ID is missing; CSeq without method is bad.
  const r3 = parse(sipText('OPTIONS sip:x@y SIP/2.0', ['Call-ID:   ', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 12']));
  assert.deepEqual(r3.reasons, ['missing_call_id', 'bad_cseq']);
});

test('line endings: bare LF accepted and counted; no empty line after the headers', () => {
  const r = parse('OPTIONS sip:x@y SIP/2.0\nCall-ID: lf\nFrom: <sip:a@b>\nTo: <sip:c@d>\nCSeq: 1 OPTIONS\n\n');
  assert.deepEqual(r.reasons, ['bare_lf']);
  assert.equal(r.m!.callId, 'lf');
  assert.equal(r.m!.cseq, '1 OPTIONS');
  const r2 = parse('OPTIONS sip:x@y SIP/2.0\r\nCall-ID: noend\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS');
  assert.deepEqual(r2.reasons, ['no_header_end']);
  assert.equal(r2.m!.cseq, '1 OPTIONS');
  assert.equal(r2.m!.bodyLength, 0);
});

test('too many headers: the first MAX_SIP_HEADERS are kept', () => {
  const hdr = ['Call-ID: many', 'From: <sip:a@b>', 'To: <sip:c@d>', 'CSeq: 1 OPTIONS'];
  for (let i = 0; i < 300; i++) hdr.push(`X-H${i}: ${i}`);
  const r = parse(sipText('OPTIONS sip:x@y SIP/2.0', hdr));
  assert.deepEqual(r.reasons, ['too_many_headers']);
  assert.equal(r.m!.headerCount, 256);
});

test('non-ASCII text is decoded as UTF-8', () => {
  const m = ok(sipText('MESSAGE sip:x@y SIP/2.0', ['Call-ID: ü-1@host', 'From: "Jürgen" <sip:j@b>', 'To: <sip:c@d>', 'CSeq: 1 MESSAGE', 'Subject: Grüße']));
  assert.equal(m.callId, 'ü-1@host');
  assert.deepEqual(headers(m)[4], ['Subject', 'Grüße']);
});
