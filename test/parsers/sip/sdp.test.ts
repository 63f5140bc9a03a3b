// parseSdp: connection addresses at both levels (IPv4, IPv6), media lines,
// rtpmap and static payload types, a=rtcp, direction, malformed lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUnspecified, parseIpv6, parseSdp, sdpToJson, type Sdp } from '../../../src/plugins/parser/sip/sdp.ts';
import { reasonsOf } from '../../../src/plugins/parser/sip/reasons.ts';
import { bytesOf, sdpBody, type SdpSpec } from './sip-wire.ts';

function sdp(s: string | SdpSpec): Sdp {
  const b = bytesOf(typeof s === 'string' ? s : sdpBody(s));
  return parseSdp(b, 0, b.length);
}

function ip(s: Sdp, i: number): string | null {
  const c = s.connectionOf(s.media[i]!);
  return c === null ? null : c.text;
}

test('RFC 4317-style offer: session c=, rtpmap, codec of the first format', () => {
  const s = sdp(
    [
      'v=0',
      'o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com',
      's=',
      'c=IN IP4 192.0.2.101',
      't=0 0',
      'm=audio 49170 RTP/AVP 0 8 97',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:97 iLBC/8000',
      'm=video 51372 RTP/AVP 31 32',
      'a=rtpmap:31 H261/90000',
      'a=rtpmap:32 MPV/90000',
      '',
    ].join('\r\n'),
  );
  assert.equal(s.errors, 0);
  assert.deepEqual(s.origin, { username: 'alice', sessionId: '2890844526', sessionVersion: '2890844526', netType: 'IN', addrType: 'IP4', address: 'host.atlanta.example.com' });
  assert.equal(s.sessionName, '');
  assert.equal(s.media.length, 2);
  const [a, v] = s.media;
  assert.equal(a!.media, 'audio');
  assert.equal(a!.port, 49170);
  assert.equal(a!.proto, 'RTP/AVP');
  assert.deepEqual(a!.formats, ['0', '8', '97']);
  assert.equal(a!.codec, 'PCMU');
  assert.equal(v!.codec, 'H261');
  assert.equal(ip(s, 0), '192.0.2.101');
  assert.deepEqual([...s.connectionOf(a!)!.ip!], [192, 0, 2, 101]);
  assert.deepEqual(sdpToJson(s), {
    origin: { username: 'alice', session_id: '2890844526', session_version: '2890844526', net_type: 'IN', addr_type: 'IP4', address: 'host.atlanta.example.com' },
    session_name: '',
    connection: '192.0.2.101',
    media: [
      {
        media: 'audio',
        port: 49170,
        port_count: 1,
        proto: 'RTP/AVP',
        formats: ['0', '8', '97'],
        connection: '192.0.2.101',
        direction: 'sendrecv',
        codec: 'PCMU',
        rtpmap: { '0': 'PCMU/8000', '8': 'PCMA/8000', '97': 'iLBC/8000' },
        rtcp: null,
        rtcp_mux: false,
      },
      {
        media: 'video',
        port: 51372,
        port_count: 1,
        proto: 'RTP/AVP',
        formats: ['31', '32'],
        connection: '192.0.2.101',
        direction: 'sendrecv',
        codec: 'H261',
        rtpmap: { '31': 'H261/90000', '32': 'MPV/90000' },
        rtcp: null,
        rtcp_mux: false,
      },
    ],
  });
});

test('static payload types without rtpmap get their RFC 3551 names', () => {
  const names: [string, string][] = [
    ['0', 'PCMU'],
    ['3', 'GSM'],
    ['4', 'G723'],
    ['8', 'PCMA'],
    ['9', 'G722'],
    ['18', 'G729'],
    ['13', 'CN'],
    ['34', 'H263'],
    ['96', ''], // dynamic without rtpmap: unknown
  ];
  for (const [pt, name] of names) {
    const s = sdp({ media: [{ port: 4000, formats: `${pt} 101` }] });
    assert.equal(s.media[0]!.codec, name, pt);
  }
  // rtpmap overrides (and names dynamic types); the first format decides.
  const s = sdp({ media: [{ port: 4000, formats: '111 0', attrs: ['a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000'] }] });
  assert.equal(s.media[0]!.codec, 'opus');
  const r = s.media[0]!.rtpmap[0]!;
  assert.deepEqual([r.pt, r.encoding, r.clockRate, r.params], [111, 'opus', 48000, '2']);
  const r1 = s.media[0]!.rtpmap[1]!;
  assert.deepEqual([r1.pt, r1.encoding, r1.clockRate, r1.params], [0, 'PCMU', 8000, '']);
  // Names outside the interned list are decoded.
  const x = sdp({ media: [{ port: 4000, formats: '98', attrs: ['a=rtpmap:98 X-Custom-Codec/16000'] }] });
  assert.equal(x.media[0]!.codec, 'X-Custom-Codec');
});

test('media-level c= overrides the session-level one; no c= at all is counted', () => {
  const s = sdp({ session: '192.0.2.1', media: [{ port: 4000 }, { port: 4002, c: '198.51.100.7' }] });
  assert.equal(ip(s, 0), '192.0.2.1');
  assert.equal(ip(s, 1), '198.51.100.7');
  const s2 = sdp({ session: null, media: [{ port: 4000, c: '198.51.100.8' }, { port: 4002 }] });
  assert.equal(ip(s2, 0), '198.51.100.8');
  assert.equal(ip(s2, 1), null);
  assert.deepEqual(reasonsOf(s2.errors), ['sdp_no_connection']);
});

test('IPv6 connection addresses', () => {
  const s = sdp({ session: '2001:db8::1', media: [{ port: 4000 }, { port: 4002, c: '2001:DB8:0:0:8:800:200C:417A' }, { port: 4004, c: '::ffff:192.0.2.128' }] });
  assert.equal(s.errors, 0);
  const c0 = s.connectionOf(s.media[0]!)!;
  assert.equal(c0.ipVersion, 6);
  assert.deepEqual([...c0.ip!], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...s.connectionOf(s.media[1]!)!.ip!], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a]);
  assert.deepEqual([...s.connectionOf(s.media[2]!)!.ip!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 128]);

  const v6 = (t: string): number[] | null => {
    const b = bytesOf(t);
    const out = new Uint8Array(16);
    return parseIpv6(b, 0, b.length, out) ? [...out] : null;
  };
  assert.deepEqual(v6('::'), new Array(16).fill(0));
  assert.deepEqual(v6('::1'), [...new Array(15).fill(0), 1]);
  assert.deepEqual(v6('fe80::'), [0xfe, 0x80, ...new Array(14).fill(0)]);
  assert.deepEqual(v6('1:2:3:4:5:6:7:8'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  for (const bad of ['', ':', ':1', '1:', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', '::%eth0']) {
    assert.equal(v6(bad), null, bad);
  }
});

test('a=rtcp with and without an address; rtcp-mux', () => {
  const s = sdp({
    media: [
      { port: 4000, attrs: ['a=rtcp:53020'] },
      { port: 4002, attrs: ['a=rtcp:53021 IN IP4 126.16.64.4'] },
      { port: 4004, attrs: ['a=rtcp:53022 IN IP6 2001:db8::9'] },
      { port: 4006, attrs: ['a=rtcp:4006', 'a=rtcp-mux'] },
    ],
  });
  assert.equal(s.errors, 0);
  assert.equal(s.media[0]!.rtcpPort, 53020);
  assert.equal(s.media[0]!.rtcpAddress, null);
  assert.equal(s.media[1]!.rtcpAddress!.text, '126.16.64.4');
  assert.equal(s.media[2]!.rtcpAddress!.ipVersion, 6);
  assert.equal(s.media[3]!.rtcpMux, true);
  const bad = sdp({ media: [{ port: 4000, attrs: ['a=rtcp:port', 'a=rtcp:70000', 'a=rtcp:5000 IN IP4 1.2.3', 'a=rtpmap:x PCMU/8000', 'a=rtpmap:0 PCMU', 'a=rtpmap:0 PCMU/0'] }] });
  assert.deepEqual(reasonsOf(bad.errors), ['sdp_bad_attribute']);
  assert.equal(bad.media[0]!.rtcpPort, -1);
  assert.equal(bad.media[0]!.rtpmap.length, 0);
});

test('direction attributes at session and media level; port 0; hold address', () => {
  const s = sdp({
    extra: ['a=sendonly'],
    media: [{ port: 4000 }, { port: 4002, attrs: ['a=inactive'] }, { port: 0 }, { port: 4006, attrs: ['a=recvonly'] }, { port: 4008, c: '0.0.0.0' }],
  });
  assert.equal(s.directionOf(s.media[0]!), 'sendonly');
  assert.equal(s.directionOf(s.media[1]!), 'inactive');
  assert.equal(s.media[2]!.port, 0);
  assert.equal(s.directionOf(s.media[3]!), 'recvonly');
  assert.equal(isUnspecified(s.connectionOf(s.media[4]!)!), true);
  assert.equal(isUnspecified(s.connectionOf(s.media[0]!)!), false);
});

test('m= with a port count, other protocols, host names', () => {
  const s = sdp({ media: [{ port: '4000/2' }, { media: 'image', port: 4010, proto: 'udptl', formats: 't38' }, { port: 4020, c: 'media.example.com' }] });
  assert.equal(s.errors, 0);
  assert.equal(s.media[0]!.portCount, 2);
  assert.equal(s.media[1]!.isRtp, false);
  assert.deepEqual(s.media[1]!.formats, ['t38']);
  assert.equal(s.media[1]!.codec, '');
  const h = s.connectionOf(s.media[2]!)!;
  assert.equal(h.ipVersion, 0);
  assert.equal(h.ip, null);
  assert.equal(h.text, 'media.example.com');
});

test('malformed SDP lines are counted and skipped, never thrown', () => {
  const s = sdp(
    [
      'v=0',
      'o=short line',
      'garbage line',
      'X=upper',
      'c=IN IP4 300.1.1.1',
      'c=IN IP5 1.2.3.4',
      'c=OUT IP4 1.2.3.4',
      'c=IN IP6 2001:db8::1::2',
      'c=IN IP4 192.0.2.9',
      'm=audio 70000 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'c=IN IP4 192.0.2.66',
      'm=audio',
      'm=audio 4000',
      'm=audio x RTP/AVP 0',
      'm=audio 4000/0 RTP/AVP 0',
      'm=audio 5000 RTP/AVP 8',
      'a=sendonly',
    ].join('\n'),
  );
  assert.deepEqual(reasonsOf(s.errors), ['sdp_bad_line', 'sdp_bad_origin', 'sdp_bad_connection', 'sdp_bad_media']);
  // Only the good media line survives; the bad one's c= was not taken as session-level.
  assert.equal(s.media.length, 1);
  assert.equal(s.media[0]!.port, 5000);
  assert.equal(ip(s, 0), '192.0.2.9');
  assert.equal(s.directionOf(s.media[0]!), 'sendonly');
  // Empty and whitespace-only input.
  assert.equal(sdp('').media.length, 0);
  assert.equal(sdp('\r\n\r\n  \r\n').errors, 0);
});
