// Random mutations of valid messages (an INVITE with SDP, a multipart
// INVITE, a 200 OK): whatever the bytes, the parser never throws, its
// results serialise, and its labels keep their contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFlowRegistry } from '../../../src/flow/shared-flow-registry.ts';
import type { FlowRegistry } from '../../../src/flow/api.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { SipParser } from '../../../src/plugins/parser/sip/index.ts';
import { bytesOf, CRLF, FakeRegistry, request, response, sdpBody, sipPacket, sipText } from './sip-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };

/** xorshift32: reproducible runs. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const INTERESTING = bytesOf('\r\n\r\n:;,<>" \t/=0123456789vmcao-SIP/2.0INVITE sip:BYE\x00\xff\xc3');

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  let b = Array.from(base);
  const n = 1 + Math.floor(r() * 8);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0: // random byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
        break;
      case 1: // interesting byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
        break;
      case 2: // insert
        b.splice(at, 0, ...Array.from({ length: 1 + Math.floor(r() * 6) }, () => INTERESTING[Math.floor(r() * INTERESTING.length)]!));
        break;
      case 3: // delete a range
        b.splice(at, 1 + Math.floor(r() * 40));
        break;
      case 4: // truncate
        b = b.slice(0, at);
        break;
      case 5: {
        // duplicate a range elsewhere
        const s = Math.floor(r() * b.length);
        const len = Math.floor(r() * 80);
        b.splice(at, 0, ...b.slice(s, s + len));
        break;
      }
      case 6: // digit run (ports, lengths, status codes)
        b.splice(at, 0, ...bytesOf(String(Math.floor(r() * 1e7))));
        break;
      default: {
        // swap two lines
        const text = Buffer.from(b).toString('latin1').split('\r\n');
        const i = Math.floor(r() * text.length);
        const j = Math.floor(r() * text.length);
        [text[i], text[j]] = [text[j]!, text[i]!];
        b = Array.from(Buffer.from(text.join('\r\n'), 'latin1'));
      }
    }
  }
  return Uint8Array.from(b);
}

function bases(): Uint8Array[] {
  const sdp = sdpBody({
    session: '192.0.2.10',
    media: [
      { port: 49170, formats: '8 0 101', attrs: ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=rtcp:49171 IN IP4 192.0.2.10', 'a=sendrecv'] },
      { media: 'video', port: 51372, formats: '96', c: '2001:db8::5', attrs: ['a=rtpmap:96 H264/90000'] },
    ],
  });
  const mp = `--b1${CRLF}Content-Type: application/sdp${CRLF}${CRLF}${sdp}${CRLF}--b1--${CRLF}`;
  return [
    bytesOf(request('INVITE', { extraHeaders: ['Subject: folded,', '  "quoted, comma" <x>', 'v: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2'] }, sdp)),
    bytesOf(response(200, 'OK', 'INVITE', {}, sdp)),
    bytesOf(sipText('INVITE sip:bob@x SIP/2.0', ['i: mp', 'f: <sip:a@b>;tag=1', 't: <sip:c@d>', 'CSeq: 1 INVITE', 'c: multipart/mixed;boundary="b1"', `l: ${mp.length}`], mp)),
    bytesOf(request('BYE')),
  ];
}

function run(reg: FlowRegistry, seed: number, iterations: number): number {
  const p = new SipParser();
  p.init({ bye_grace: 1 }, ctx);
  p.setFlowRegistry(reg);
  const r = rng(seed);
  const all = bases();
  let reported = 0;
  for (let i = 0; i < iterations; i++) {
    const bytes = mutate(all[i % all.length]!, r);
    const pkt = sipPacket(bytes, { srcPort: 5060, dstPort: i % 2 === 0 ? 5060 : 40000 + (i % 1000), tsSec: 1_700_000_000 + i, frameNo: i + 1 });
    let out;
    try {
      if (!p.canHandle(pkt)) continue;
      out = p.handle(pkt);
      if (out === null) continue;
      reported++;
      const json = JSON.stringify(out.payload.toJSON());
      assert.ok(json.length > 0);
      // The direct JSON text (what records carry) is the same, whatever the damage.
      assert.equal(out.payload.toJsonText!(), json);
      const bin = out.payload.toBinary();
      assert.ok(bin.length <= bytes.length);
      for (const [k, v] of Object.entries(out.labels)) {
        assert.match(k, /^[a-z0-9][a-z0-9.-]*$/);
        assert.equal(typeof v, 'string');
      }
      assert.equal(out.labels['call-id'], out.labels['sip.call-id']);
    } catch (e) {
      assert.fail(`seed ${seed} iteration ${i} (${JSON.stringify(Buffer.from(bytes).toString('latin1'))}): ${(e as Error).stack}`);
    }
  }
  p.stop();
  const s = p.stats();
  for (const v of Object.values(s)) assert.ok(Number.isFinite(v) && v >= 0);
  return reported;
}

test('random mutations of valid messages never throw (fake registry)', () => {
  const reported = run(new FakeRegistry(), 0x5eed, 20_000);
  // Most mutations keep a usable start line and Call-ID.
  assert.ok(reported > 5_000, `reported ${reported}`);
});

test('random mutations of valid messages never throw (shared registry)', () => {
  const reg = SharedFlowRegistry.create(1024);
  run(reg, 0xc0ffee, 10_000);
});

test('random bytes never throw', () => {
  const p = new SipParser();
  p.init({}, ctx);
  p.setFlowRegistry(new FakeRegistry());
  const r = rng(42);
  for (let i = 0; i < 5_000; i++) {
    const len = Math.floor(r() * 300);
    const b = new Uint8Array(len);
    for (let k = 0; k < len; k++) b[k] = r() < 0.5 ? INTERESTING[Math.floor(r() * INTERESTING.length)]! : Math.floor(r() * 256);
    const pkt = sipPacket(b);
    const out = p.handle(pkt);
    if (out !== null) assert.equal(out.payload.toJsonText!(), JSON.stringify(out.payload.toJSON()));
  }
});
