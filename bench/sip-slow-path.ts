// Benchmark: the sip parser's slow path on one core. Realistic INVITEs with
// SDP (about 1 kB: two Vias, the usual headers, an audio line with three
// formats) and their 200 OKs with SDP, alternately, through canHandle +
// handle, as the pipeline runs them, with a SharedFlowRegistry: every message
// registers an RTP and an RTCP endpoint, and every INVITE is a new call (its
// Call-ID and both media ports are rewritten in place before each use), so
// the registry and the parser's call tracker insert rather than refresh, as
// on a trunk where retransmissions are rare. The 256 message pairs live in
// one buffer, as in a capture ring. Packet time advances 20 ms per message:
// with the default 300 s media TTL, some 7,500 calls (30,000 endpoints) stay
// live in the registry, which expires the older ones. The registry's capacity
// is the task default, 65,536 endpoints (live entries near half of it); until
// the registry's tombstone sweeps were amortised it swept its whole table on
// almost every insert there (16K messages/s), so this bench used 262,144.
//
// By default the payload is built but not serialised (as in the rtp
// benchmark; serialisation belongs to the pipeline). With `serialize`, each
// result is also turned into its JSON text and binary copy, as toRecord()
// does when a task's reporters want both forms.
import { DecodedPacket, IPPROTO } from '../src/core/packet.ts';
import { SharedFlowRegistry } from '../src/flow/shared-flow-registry.ts';
import { SipParser } from '../src/plugins/parser/sip/index.ts';

const PAIRS = 256;
const CALL_DIGITS = 9;
const PORT_DIGITS = 5;

function sdp(user: string, addr: string, port: string, version: number): string {
  return [
    'v=0',
    `o=${user} 53655765 ${version} IN IP4 ${addr}`,
    's=-',
    `c=IN IP4 ${addr}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 8 0 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

// Placeholders rewritten before each use: the call number and the media ports.
const CALL_MARK = '#'.repeat(CALL_DIGITS);
const PORT_MARK = 'P'.repeat(PORT_DIGITS);

function invite(i: number): string {
  const body = sdp('alice', `10.1.${i >> 8}.${i & 0xff}`, PORT_MARK, 1);
  return [
    `INVITE sip:bob@biloxi.example.com SIP/2.0`,
    `Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK${100000 + i}.1`,
    `Via: SIP/2.0/UDP pc33.atlanta.example.com;received=10.1.0.${i & 0xff};branch=z9hG4bK776asdhds${i}`,
    'Max-Forwards: 69',
    'To: "Bob" <sip:bob@biloxi.example.com>',
    `From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774${i}`,
    `Call-ID: a84b4c76e66710-${CALL_MARK}@pc33.atlanta.example.com`,
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE, PRACK',
    'Supported: replaces, timer, 100rel',
    'Session-Expires: 1800',
    'User-Agent: Otus-Bench SoftPhone 3.2.1',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function ok(i: number): string {
  const body = sdp('bob', `10.2.${i >> 8}.${i & 0xff}`, PORT_MARK, 1);
  return [
    'SIP/2.0 200 OK',
    `Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK${100000 + i}.1`,
    `Via: SIP/2.0/UDP pc33.atlanta.example.com;received=10.1.0.${i & 0xff};branch=z9hG4bK776asdhds${i}`,
    'Record-Route: <sip:proxy.atlanta.example.com;lr>',
    `To: "Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf${i}`,
    `From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774${i}`,
    `Call-ID: a84b4c76e66710-${CALL_MARK}@pc33.atlanta.example.com`,
    'CSeq: 314159 INVITE',
    'Contact: <sip:bob@192.0.2.4;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE, PRACK',
    'Supported: replaces, timer',
    'Server: Otus-Bench PBX 7.0',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

interface Slot {
  offset: number;
  length: number;
  /** Where the call number and the media port digits are. */
  callAt: number;
  portAt: number;
}

function writeDigits(b: Uint8Array, at: number, width: number, v: number): void {
  for (let i = width - 1; i >= 0; i--) {
    b[at + i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

export interface SipBenchOptions {
  /** Also build the JSON text and the binary copy of every result. */
  serialize?: boolean;
  /** Registry capacity (default 65,536 endpoints, the task default: about twice what stays live). */
  capacity?: number;
  /** Every INVITE a new call (default true); false replays the same 256 calls (registrations refresh). */
  newCalls?: boolean;
  /** The parser's register_media (default true); false measures parsing and labelling alone. */
  registerMedia?: boolean;
}

export async function benchSipSlowPath(
  seconds: number,
  opts: SipBenchOptions = {},
): Promise<{ pps: number; bytesPerMessage: number; registry: Record<string, number> }> {
  const reg = SharedFlowRegistry.create(opts.capacity ?? 65536);
  const fresh = opts.newCalls ?? true;
  const parser = new SipParser();
  parser.init({ register_media: opts.registerMedia ?? true }, { taskId: 'bench', workerIndex: 0, agent: 'bench', log: () => {} });
  parser.setFlowRegistry(reg);

  // All messages in one buffer, each after a 42-byte Ethernet/IPv4/UDP header.
  const texts: string[] = [];
  for (let i = 0; i < PAIRS; i++) texts.push(invite(i), ok(i));
  const total = texts.reduce((n, t) => n + 42 + Buffer.byteLength(t), 0);
  const ring = new Uint8Array(total);
  const slots: Slot[] = [];
  let at = 0;
  for (const t of texts) {
    const b = Buffer.from(t, 'latin1');
    ring.set(b, at + 42);
    slots.push({ offset: at + 42, length: b.length, callAt: at + 42 + t.indexOf(CALL_MARK), portAt: at + 42 + t.indexOf(PORT_MARK) });
    at += 42 + b.length;
  }
  let call = 0;
  /** Turns pair `k` (INVITE at slots[k], 200 OK at slots[k + 1]) into a new call. */
  const newCall = (k: number): void => {
    call++;
    const port = 10000 + 2 * (call % 25000);
    const inv = slots[k]!;
    const ok = slots[k + 1]!;
    writeDigits(ring, inv.callAt, CALL_DIGITS, call);
    writeDigits(ring, inv.portAt, PORT_DIGITS, port);
    writeDigits(ring, ok.callAt, CALL_DIGITS, call);
    writeDigits(ring, ok.portAt, PORT_DIGITS, port);
  };

  const pkt = new DecodedPacket();
  pkt.ipVersion = 4;
  pkt.protocol = IPPROTO.UDP;
  pkt.srcIp.set([10, 0, 0, 1]);
  pkt.dstIp.set([10, 0, 0, 2]);
  pkt.srcPort = 5060;
  pkt.dstPort = 5060;
  pkt.data = ring;
  pkt.tsSec = 1_700_000_000;
  const serialize = opts.serialize === true;

  let k = 0;
  const run = (ns: bigint): { n: number; elapsed: bigint } => {
    const start = process.hrtime.bigint();
    const until = start + ns;
    let n = 0;
    let sink = 0;
    let now = start;
    while (now < until) {
      for (let i = 0; i < 1024; i++) {
        if ((k & 1) === 0 && (fresh || call < PAIRS)) newCall(k);
        const s = slots[k]!;
        k = k + 1 === slots.length ? 0 : k + 1;
        pkt.frameNo++;
        pkt.tsNsec += 20_000_000;
        if (pkt.tsNsec >= 1e9) {
          pkt.tsNsec -= 1e9;
          pkt.tsSec++;
        }
        pkt.payloadOffset = s.offset;
        pkt.payloadLength = s.length;
        if (parser.canHandle(pkt)) {
          const r = parser.handle(pkt);
          if (r !== null) {
            sink += r.labels['sip.call-id']!.length;
            if (serialize) sink += JSON.stringify(r.payload.toJSON()).length + r.payload.toBinary().length;
          }
        }
      }
      n += 1024;
      now = process.hrtime.bigint();
    }
    if (sink === 0) throw new Error('benchmark: nothing was handled');
    return { n, elapsed: now - start };
  };

  run(BigInt(Math.round(Math.min(1, seconds / 4) * 1e9))); // warm-up: let the JIT optimise
  const { n, elapsed } = run(BigInt(Math.round(seconds * 1e9)));
  const st = parser.stats();
  if ((opts.registerMedia !== false && st.endpoints_registered === 0) || st.rejected !== 0 || st.partial !== 0) throw new Error(`benchmark: unexpected parser stats ${JSON.stringify(st)}`);
  const rs = reg.stats();
  if (rs.refused_full! > 0) throw new Error(`benchmark: the registry filled up ${JSON.stringify(rs)}`);
  return { pps: Math.round(n / (Number(elapsed) / 1e9)), bytesPerMessage: Math.round(slots.reduce((a, s) => a + s.length, 0) / slots.length), registry: rs };
}

// `node dist/bench/sip-slow-path.js [seconds]` runs it alone, in four configurations.
if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 3);
  const runs: [string, SipBenchOptions][] = [
    ['new call per INVITE, registering media', {}],
    ['same 256 calls replayed (registrations refresh)', { newCalls: false }],
    ['parse and label only (register_media: false)', { registerMedia: false }],
    ['new call per INVITE, plus JSON text and binary copy of each payload', { serialize: true }],
  ];
  for (const [what, opts] of runs) {
    const r = await benchSipSlowPath(seconds, opts);
    console.log(`sip slow path, INVITE/200 OK with SDP (${r.bytesPerMessage} B), ${what}: ${(r.pps / 1e3).toFixed(0)} kpps on one core`);
  }
}
