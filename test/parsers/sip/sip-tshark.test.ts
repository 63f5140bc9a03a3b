// The sip parser against tshark: a pcap of hand-written frames (Ethernet /
// IPv4 / UDP / SIP) is dissected by tshark and parsed by the plugin; method,
// status code, Call-ID and the SDP media ports and addresses must agree frame
// by frame. Skipped without tshark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap } from '../../helpers/pcap-writer.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { SipParser } from '../../../src/plugins/parser/sip/index.ts';
import { bytesOf, CRLF, FakeRegistry, request, response, sdpBody, sipPacket, sipText, udpFrame } from './sip-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };

function messages(): string[] {
  const offer = sdpBody({ session: '192.0.2.10', media: [{ port: 49170, formats: '8 101', attrs: ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000'] }] });
  const answer = sdpBody({
    session: '192.0.2.20',
    origin: { user: 'bob', addr: '192.0.2.20' },
    media: [
      { port: 3456, formats: '8' },
      { media: 'video', port: 3458, formats: '31', c: '198.51.100.9' },
    ],
  });
  const mp = `--xyz${CRLF}Content-Type: application/sdp${CRLF}${CRLF}${sdpBody({ session: '192.0.2.30', media: [{ port: 6000 }] })}${CRLF}--xyz--${CRLF}`;
  return [
    request('INVITE', {}, offer),
    response(100, 'Trying', 'INVITE'),
    response(180, 'Ringing', 'INVITE'),
    response(200, 'OK', 'INVITE', {}, answer),
    request('ACK'),
    request('OPTIONS', { callId: 'options-1@192.0.2.1' }),
    sipText('REGISTER sip:registrar.example.com SIP/2.0', [
      'v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKreg1',
      'i: compact-reg@192.0.2.1',
      'f: <sip:carol@example.com>;tag=77',
      't: <sip:carol@example.com>',
      'CSeq: 9 REGISTER',
      'm: <sip:carol@192.0.2.1>',
      'l: 0',
    ]),
    response(401, 'Unauthorized', 'REGISTER', { callId: 'compact-reg@192.0.2.1', cseq: 9 }),
    sipText('INVITE sip:dave@example.com SIP/2.0', ['Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKmp', 'Call-ID: multipart-1', 'From: <sip:a@example.com>;tag=1', 'To: <sip:dave@example.com>', 'CSeq: 1 INVITE', 'Content-Type: multipart/mixed;boundary=xyz', `Content-Length: ${mp.length}`], mp),
    request('BYE', { cseq: 314160 }),
    response(200, 'OK', 'BYE', { cseq: 314160 }),
  ];
}

function hasTshark(): boolean {
  return spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
}

test('method, status code, Call-ID and SDP media agree with tshark', (t) => {
  if (!hasTshark()) {
    t.skip('tshark is not installed');
    return;
  }
  const msgs = messages();
  const dir = mkdtempSync(join(tmpdir(), 'otus-sip-'));
  try {
    const file = join(dir, 'sip.pcap');
    writePcap(
      file,
      msgs.map((m, i) => ({ data: udpFrame(bytesOf(m), 5060, 5060), tsSec: 1_700_000_000 + i, tsNsec: 0 })),
    );
    const r = spawnSync(
      'tshark',
      ['-n', '-r', file, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.Call-ID', '-e', 'sdp.media.port', '-e', 'sdp.connection_info.address'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trimEnd().split('\n');
    assert.equal(rows.length, msgs.length);

    const p = new SipParser();
    p.init({}, ctx);
    p.setFlowRegistry(new FakeRegistry());
    msgs.forEach((m, i) => {
      const [method, status, callId, ports, addrs] = rows[i]!.split('|');
      const out = p.handle(sipPacket(m, { tsSec: 1_700_000_000 + i, frameNo: i + 1 }))!;
      assert.ok(out !== null, `frame ${i + 1}`);
      assert.equal(out.labels['sip.method'] ?? '', method, `frame ${i + 1} method`);
      assert.equal(out.labels['sip.status'] ?? '', status, `frame ${i + 1} status`);
      assert.equal(out.labels['sip.call-id'], callId, `frame ${i + 1} call-id`);
      const sdp = (out.payload.toJSON() as { sdp: { connection: string | null; media: { port: number; connection: string }[] } | null }).sdp;
      const ourPorts = sdp === null ? '' : sdp.media.map((x) => x.port).join(',');
      assert.equal(ourPorts, ports, `frame ${i + 1} media ports`);
      // tshark lists every c= line in order: the session's, then the media-level ones.
      if (sdp !== null) assert.equal(addrs!.split(',')[0], sdp.connection, `frame ${i + 1} c=`);
    });
    // The video line's media-level c= overrides the session's.
    const answer = p.handle(sipPacket(msgs[3]!))!;
    const media = (answer.payload.toJSON() as { sdp: { media: { connection: string }[] } }).sdp.media;
    assert.deepEqual(
      media.map((m) => m.connection),
      rows[3]!.split('|')[4]!.split(','),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
