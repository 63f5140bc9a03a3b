// Benchmark: TCP stream reassembly on one core (ADR-005).
//
// 1. Reassembled MB/s: 1,000 concurrent streams, segments of 1,400 and of
//    200 bytes, round-robin over the streams, handed to the Reassembler as
//    DecodedPackets (the decoder is measured elsewhere); a handler that
//    consumes every byte. Then the same with every 10th pair of segments
//    swapped (out of order: a copy, a hold and a drain each), and with every
//    10th segment sent twice (retransmission dedup).
// 2. SIP/TCP messages/s: SIP calls (INVITE and 200 with SDP, 100+180 in one
//    segment, ACK, BYE, 200) over 200 concurrent TCP connections, messages
//    cut in segments of 500 bytes, through the Reassembler and SipParser's
//    stream framing, parse and SDP registration (SharedFlowRegistry); the
//    pipeline's envelope and serialisation are not included. The peer in the
//    same run: the same messages as UDP datagrams through SipParser.handle,
//    so the difference is what framing out of TCP costs.
import { DecodedPacket, IPPROTO, TCP_FLAG } from '../src/core/packet.ts';
import { SharedFlowRegistry } from '../src/flow/shared-flow-registry.ts';
import { SipParser } from '../src/plugins/parser/sip/index.ts';
import { defaultTcpReassemblyConfig, type StreamHandler, type StreamSink } from '../src/reassembly/api.ts';
import { Reassembler } from '../src/reassembly/reassembler.ts';
import type { BenchRow, BenchSection } from './report.ts';

const HDR = 54; // where the payload starts in each frame buffer, as after Ethernet/IPv4/TCP

function packet(p: DecodedPacket, id: number, dir: 0 | 1, seq: number, data: Uint8Array, off: number, len: number, t: number, flags: number): void {
  p.tsSec = Math.floor(t);
  p.tsNsec = Math.round((t % 1) * 1e9);
  p.ipVersion = 4;
  p.protocol = IPPROTO.TCP;
  const c0 = 10, c1 = 0, c2 = (id >> 8) & 255, c3 = id & 255;
  if (dir === 0) {
    p.srcIp[0] = c0; p.srcIp[1] = c1; p.srcIp[2] = c2; p.srcIp[3] = c3;
    p.dstIp[0] = 10; p.dstIp[1] = 1; p.dstIp[2] = 0; p.dstIp[3] = 1;
    p.srcPort = 40000 + id;
    p.dstPort = 5060;
  } else {
    p.dstIp[0] = c0; p.dstIp[1] = c1; p.dstIp[2] = c2; p.dstIp[3] = c3;
    p.srcIp[0] = 10; p.srcIp[1] = 1; p.srcIp[2] = 0; p.srcIp[3] = 1;
    p.dstPort = 40000 + id;
    p.srcPort = 5060;
  }
  p.tcpSeq = seq >>> 0;
  p.tcpFlags = flags;
  p.data = data;
  p.payloadOffset = off;
  p.payloadLength = len;
}

const consumeAll: StreamHandler = { onData: (_d, _b, s, e) => e - s, onClose: () => {} };

/** MB/s of payload through the reassembler. */
function bytesRun(segSize: number, mode: 'in-order' | 'ooo' | 'retrans', seconds: number): number {
  const STREAMS = 1000;
  const r = new Reassembler({ ...defaultTcpReassemblyConfig(), enabled: true, ports: [5060] }, { openStream: () => consumeAll });
  const frame = new Uint8Array(HDR + segSize).fill(0x41);
  const p = new DecodedPacket();
  const seqs = new Float64Array(STREAMS);
  for (let id = 0; id < STREAMS; id++) {
    packet(p, id, 0, 999, frame, HDR, 0, 1, TCP_FLAG.SYN);
    r.handlePacket(p);
    seqs[id] = 1000;
  }
  let bytes = 0;
  let t = 1;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let round = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 1000; k++) {
      for (let id = 0; id < STREAMS; id++) {
        const s = seqs[id]!;
        t += 1e-6;
        if (mode === 'ooo' && (round + id) % 10 === 0) {
          // the second segment first, then the first
          packet(p, id, 0, s + segSize, frame, HDR, segSize, t, TCP_FLAG.ACK);
          r.handlePacket(p);
          packet(p, id, 0, s, frame, HDR, segSize, t, TCP_FLAG.ACK);
          r.handlePacket(p);
          seqs[id] = s + 2 * segSize;
          bytes += 2 * segSize;
          continue;
        }
        packet(p, id, 0, s, frame, HDR, segSize, t, TCP_FLAG.ACK);
        r.handlePacket(p);
        if (mode === 'retrans' && (round + id) % 10 === 0) r.handlePacket(p);
        seqs[id] = s + segSize;
        bytes += segSize;
      }
      round++;
      if ((k & 15) === 15 && process.hrtime.bigint() >= deadline) break;
    }
  }
  const sec = Number(process.hrtime.bigint() - start) / 1e9;
  return bytes / sec / 1e6;
}

// ---- SIP

function sdp(ip: string, port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
}

function msg(start: string, n: number, cseq: string, body = ''): string {
  const h = [
    start,
    `Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-${n}`,
    `From: <sip:alice@example.com>;tag=a${n}`,
    `To: <sip:bob@example.com>;tag=b${n}`,
    `Call-ID: bench-${n}@10.0.0.1`,
    `CSeq: ${cseq}`,
    'User-Agent: otus-bench/1.0',
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    '',
  ];
  return h.join('\r\n') + body;
}

/** One call's messages by direction; 100 and 180 travel together. */
function call(n: number): [0 | 1, Uint8Array, number][] {
  const b = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
  return [
    [0, b(msg('INVITE sip:bob@example.com SIP/2.0', n, '1 INVITE', sdp('10.0.0.1', 20000 + (n % 10000) * 2))), 1],
    [1, b(msg('SIP/2.0 100 Trying', n, '1 INVITE') + msg('SIP/2.0 180 Ringing', n, '1 INVITE')), 2],
    [1, b(msg('SIP/2.0 200 OK', n, '1 INVITE', sdp('10.0.0.2', 40000 + (n % 10000) * 2))), 1],
    [0, b(msg('ACK sip:bob@10.0.0.2 SIP/2.0', n, '1 ACK')), 1],
    [0, b(msg('BYE sip:bob@10.0.0.2 SIP/2.0', n, '2 BYE')), 1],
    [1, b(msg('SIP/2.0 200 OK', n, '2 BYE')), 1],
  ];
}

function sipParser(): SipParser {
  const s = new SipParser();
  s.init({});
  s.setFlowRegistry(SharedFlowRegistry.create(1 << 18));
  return s;
}

/** SIP/TCP messages/s through reassembly + framing + parse + SDP registration. */
function sipTcpRun(seconds: number): { msgs: number; mbps: number } {
  const CONNS = 200;
  const SEG = 500;
  const parser = sipParser();
  let msgs = 0;
  const sink: StreamSink = { emit: () => void msgs++, now: () => t };
  let t = 1;
  const r = new Reassembler({ ...defaultTcpReassemblyConfig(), enabled: true, ports: [5060] }, { openStream: (pkt) => parser.openStream(pkt, sink) });
  // Eight distinct calls' messages, placed once in frame-like buffers (payload at HDR).
  const calls = Array.from({ length: 8 }, (_, i) => call(i).map(([dir, bytes]) => {
    const f = new Uint8Array(HDR + bytes.length);
    f.set(bytes, HDR);
    return { dir, f, len: bytes.length };
  }));
  const p = new DecodedPacket();
  const seq = [new Float64Array(CONNS), new Float64Array(CONNS)];
  for (let id = 0; id < CONNS; id++) {
    packet(p, id, 0, 0, calls[0]![0]!.f, HDR, 0, t, TCP_FLAG.SYN);
    r.handlePacket(p);
    packet(p, id, 1, 0, calls[0]![0]!.f, HDR, 0, t, TCP_FLAG.SYN | TCP_FLAG.ACK);
    r.handlePacket(p);
    seq[0]![id] = seq[1]![id] = 1;
  }
  let bytes = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 50; k++, n++) {
      const c = calls[n & 7]!;
      for (const m of c) {
        for (let id = 0; id < CONNS; id++) {
          const sq = seq[m.dir]!;
          for (let o = 0; o < m.len; o += SEG) {
            const len = Math.min(SEG, m.len - o);
            t += 1e-6;
            packet(p, id, m.dir, sq[id]! + o, m.f, HDR + o, len, t, TCP_FLAG.ACK | TCP_FLAG.PSH);
            r.handlePacket(p);
          }
          sq[id]! += m.len;
          bytes += m.len;
        }
      }
    }
  }
  const sec = Number(process.hrtime.bigint() - start) / 1e9;
  if (parser.stats()['tcp_messages'] !== msgs) throw new Error('bench: message count mismatch');
  return { msgs: msgs / sec, mbps: bytes / sec / 1e6 };
}

/** The same messages as UDP datagrams (one message each) through SipParser.handle. */
function sipUdpRun(seconds: number): number {
  const parser = sipParser();
  const msgs: { f: Uint8Array; len: number; dir: 0 | 1 }[] = [];
  for (let i = 0; i < 8; i++) {
    for (const [dir, bytes] of call(i)) {
      // split "100+180" back into two datagrams
      const text = Buffer.from(bytes).toString('latin1');
      const parts = text.startsWith('SIP/2.0 100') ? text.split(/(?=SIP\/2\.0 180)/) : [text];
      for (const part of parts) {
        const b = Buffer.from(part, 'latin1');
        const f = new Uint8Array(HDR + b.length);
        f.set(b, HDR);
        msgs.push({ f, len: b.length, dir });
      }
    }
  }
  const p = new DecodedPacket();
  let count = 0;
  let t = 1;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 200; k++) {
      for (const m of msgs) {
        t += 1e-6;
        packet(p, k, m.dir, 0, m.f, HDR, m.len, t, 0);
        p.protocol = IPPROTO.UDP;
        if (parser.canHandle(p) && parser.handle(p) !== null) count++;
      }
    }
  }
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function run(): Promise<BenchSection> {
  const S = Number(process.env['OTUS_BENCH_SECONDS'] ?? 3);
  const rows: BenchRow[] = [];
  const note = '1,000 streams, 1 core, handler consumes every byte';
  rows.push({ name: 'reassembly, 1400 B segments, in order', value: bytesRun(1400, 'in-order', S), unit: 'MB/s', note });
  rows.push({ name: 'reassembly, 200 B segments, in order', value: bytesRun(200, 'in-order', S), unit: 'MB/s', note });
  rows.push({ name: 'reassembly, 1400 B, 1 pair in 10 swapped', value: bytesRun(1400, 'ooo', S), unit: 'MB/s', note: 'out-of-order copy + hold + drain' });
  rows.push({ name: 'reassembly, 1400 B, 1 in 10 retransmitted', value: bytesRun(1400, 'retrans', S), unit: 'MB/s', note: 'MB/s of unique bytes' });
  const tcp = sipTcpRun(S);
  rows.push({ name: 'SIP over TCP, 500 B segments', value: tcp.msgs, unit: 'msg/s', note: `reassembly + framing + parse + SDP registration, 200 connections; ${tcp.mbps.toFixed(1)} MB/s` });
  rows.push({ name: 'peer: same SIP messages over UDP', value: sipUdpRun(S), unit: 'msg/s', note: 'SipParser.handle per datagram, same run' });
  return { title: 'TCP reassembly (1 core)', rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatSection } = await import('./report.ts');
  console.log(formatSection(await run()));
}
