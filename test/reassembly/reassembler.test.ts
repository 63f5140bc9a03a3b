// Unit tests of the TCP reassembler (ADR-005): ordering, retransmission and
// overlap, holes and gap_timeout, leftovers, limits, LRU eviction, timeouts.
// Packets are DecodedPackets filled by hand (the decoder has its own tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DecodedPacket, IPPROTO, TCP_FLAG } from '../../src/core/packet.ts';
import { defaultTcpReassemblyConfig, type StreamDir, type StreamHandler, type TcpReassemblyConfig } from '../../src/reassembly/api.ts';
import { Reassembler, STREAM_OVERHEAD } from '../../src/reassembly/reassembler.ts';

/** Records what a stream delivered; consumes everything unless `keep` says how many bytes to leave. */
class Recorder implements StreamHandler {
  readonly text = ['', ''];
  readonly gaps: [number, number][] = []; // [dir, offset in text] of every gap flag
  closed = false;
  ended = [false, false];
  keep = 0;
  onData(dir: StreamDir, d: Uint8Array, s: number, e: number, gap: boolean): number {
    if (gap) {
      this.gaps.push([dir, this.text[dir]!.length]);
      this.pending[dir] = ''; // after a gap, what was left is gone
    }
    // Only what was not seen before is new (a leftover comes back first).
    const seen = this.pending[dir]!;
    const chunk = Buffer.from(d.subarray(s, e)).toString('latin1');
    assert.ok(chunk.startsWith(seen), 'a leftover is presented again first');
    this.text[dir] += chunk.slice(seen.length);
    const used = Math.max(0, e - s - this.keep);
    this.pending[dir] = chunk.slice(used);
    return used;
  }
  readonly pending = ['', ''];
  onEnd(dir: StreamDir): void {
    this.ended[dir] = true;
  }
  onClose(): void {
    this.closed = true;
  }
}

/** Consumes nothing, records nothing but its closing. */
class Holder extends Recorder {
  override onData(): number {
    return 0;
  }
}

function cfg(o: Partial<TcpReassemblyConfig> = {}): TcpReassemblyConfig {
  return { ...defaultTcpReassemblyConfig(), enabled: true, ports: [5060], ...o };
}

class Harness {
  readonly handlers: Recorder[] = [];
  readonly r: Reassembler;
  readonly p = new DecodedPacket();
  keep = 0;
  constructor(c: TcpReassemblyConfig, make: () => Recorder = () => new Recorder()) {
    this.r = new Reassembler(c, {
      openStream: () => {
        const h = make();
        h.keep = this.keep;
        this.handlers.push(h);
        return h;
      },
    });
  }
  /** A segment of stream `id` (client 10.0.x.y:40000+... -> 10.1.0.1:5060), dir 0 = from the client. */
  seg(t: number, dir: 0 | 1, seq: number, payload: string, flags = TCP_FLAG.ACK | TCP_FLAG.PSH, id = 0): boolean {
    const p = this.p;
    p.reset();
    p.tsSec = Math.floor(t);
    p.tsNsec = Math.round((t - Math.floor(t)) * 1e9);
    p.ipVersion = 4;
    p.protocol = IPPROTO.TCP;
    const cli = [10, 0, (id >> 8) & 255, id & 255];
    const srv = [10, 1, 0, 1];
    p.srcIp.set(dir === 0 ? cli : srv);
    p.dstIp.set(dir === 0 ? srv : cli);
    const cport = 40000 + (id % 20000);
    p.srcPort = dir === 0 ? cport : 5060;
    p.dstPort = dir === 0 ? 5060 : cport;
    p.tcpSeq = seq >>> 0;
    p.tcpFlags = flags;
    const b = Buffer.from(payload, 'latin1');
    p.data = new Uint8Array(b.length + 7);
    p.data.set(b, 7);
    p.payloadOffset = 7;
    p.payloadLength = b.length;
    return this.r.handlePacket(p);
  }
  get h(): Recorder {
    return this.handlers[0]!;
  }
}

test('in order, with a SYN: bytes delivered once, in order, no gap; ports outside the rules are left alone', () => {
  const x = new Harness(cfg());
  assert.equal(x.seg(1, 0, 99, '', TCP_FLAG.SYN), true);
  x.seg(1.1, 0, 100, 'hello ');
  x.seg(1.2, 0, 106, 'world');
  assert.equal(x.h.text[0], 'hello world');
  assert.deepEqual(x.h.gaps, []);
  x.p.srcPort = 1234;
  x.p.dstPort = 80;
  assert.equal(x.r.handlePacket(x.p), false);
});

test('out of order: held, then delivered in order when the hole fills', () => {
  const x = new Harness(cfg());
  x.seg(1, 0, 0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 1, 'AAAA');
  x.seg(1, 0, 9, 'CCCC');
  x.seg(1, 0, 13, 'DDDD');
  assert.equal(x.h.text[0], 'AAAA');
  x.seg(1, 0, 5, 'BBBB');
  assert.equal(x.h.text[0], 'AAAABBBBCCCCDDDD');
  const s = x.r.stats();
  assert.equal(s['out_of_order_segments'], 2);
  assert.equal(s['gaps'], 0);
});

test('retransmissions and overlaps: every byte delivered exactly once', () => {
  const x = new Harness(cfg());
  x.seg(1, 0, 0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 1, '0123456789');
  x.seg(1, 0, 1, '0123456789'); // retransmission
  x.seg(1, 0, 6, '56789abcde'); // overlaps the tail
  x.seg(1, 0, 22, 'lmn'); // ahead
  x.seg(1, 0, 22, 'lmn'); // the same, again, while held
  x.seg(1, 0, 14, 'defghijkl'); // fills the hole, overlapping both sides
  assert.equal(x.h.text[0], '0123456789abcdefghijklmn');
  const s = x.r.stats();
  assert.equal(s['retransmitted_segments'], 2);
  assert.equal(s['bytes_delivered'], 24);
});

test('sequence numbers wrap around 2^32', () => {
  const x = new Harness(cfg());
  x.seg(1, 0, 0xfffffff0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 0xfffffff1, 'x'.repeat(10));
  x.seg(1, 0, 0xfffffffb + 10, 'zz'); // ahead, past the wrap
  x.seg(1, 0, 0xfffffffb, 'y'.repeat(10)); // crosses the wrap
  assert.equal(x.h.text[0], 'x'.repeat(10) + 'y'.repeat(10) + 'zz');
});

test('a lost segment: the hole waits gap_timeout of packet time, then is skipped and marked', () => {
  const x = new Harness(cfg({ gapTimeoutSec: 5 }));
  x.seg(10, 0, 0, '', TCP_FLAG.SYN);
  x.seg(10, 0, 1, 'AAAA');
  x.seg(10.5, 0, 9, 'CCCC'); // BBBB (5..8) is lost
  x.seg(14.9, 1, 500, '', TCP_FLAG.SYN | TCP_FLAG.ACK);
  x.r.expire(15.4);
  assert.equal(x.h.text[0], 'AAAA', 'still waiting before gap_timeout');
  x.r.expire(15.6);
  assert.equal(x.h.text[0], 'AAAACCCC');
  assert.deepEqual(x.h.gaps, [[0, 4]]);
  const s = x.r.stats();
  assert.equal(s['gaps'], 1);
  assert.equal(s['gap_bytes'], 4);
});

test('mid-stream join: the first bytes are marked as a gap; a syn-required port follows only from the SYN', () => {
  const x = new Harness(cfg());
  x.seg(1, 0, 123456, 'tail of something');
  assert.deepEqual(x.h.gaps, [[0, 0]]);
  assert.equal(x.r.stats()['mid_stream_joins'], 1);

  const y = new Harness(cfg({ synRequiredPorts: [5060] }));
  assert.equal(y.seg(1, 0, 123456, 'mid-stream'), true, 'taken (and ignored), not parsed per packet');
  assert.equal(y.handlers.length, 0);
  assert.equal(y.r.stats()['syn_required_skipped'], 1);
  y.seg(2, 0, 7, '', TCP_FLAG.SYN);
  y.seg(2, 0, 8, 'from the start');
  assert.equal(y.h.text[0], 'from the start');

  const z = new Harness(cfg({ midStreamJoin: false }));
  z.seg(1, 0, 5, 'mid');
  assert.equal(z.handlers.length, 0);
});

test('leftovers: bytes a handler does not consume come back first, within per_stream_buffer_limit', () => {
  const x = new Harness(cfg({ perStreamBufferLimit: 64, globalMemoryLimit: 1 << 20 }));
  x.keep = 3;
  x.seg(1, 0, 0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 1, 'abcdef');
  x.seg(1, 0, 7, 'ghij');
  assert.equal(x.h.text[0], 'abcdefghij');
  assert.equal(x.h.pending[0], 'hij');
  // A handler that never frames anything overflows the stream's limit: its bytes are dropped, a gap marked.
  x.h.keep = 1 << 20;
  x.seg(1, 0, 11, 'k'.repeat(60));
  x.seg(1, 0, 71, 'l'.repeat(10));
  assert.ok(x.r.stats()['overflow_bytes']! > 0);
  assert.equal(x.h.gaps.length, 1);
});

test('FIN from both sides closes the stream (onEnd per direction first); RST closes at once; idle streams time out', () => {
  const x = new Harness(cfg({ streamTimeoutSec: 30 }));
  x.seg(1, 0, 0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 1, 'abc', TCP_FLAG.ACK | TCP_FLAG.FIN);
  assert.deepEqual(x.h.ended, [true, false]);
  x.seg(1, 1, 50, '', TCP_FLAG.ACK | TCP_FLAG.FIN);
  assert.equal(x.h.closed, true);
  assert.equal(x.r.activeStreams, 0);
  x.seg(1.1, 0, 5, '', TCP_FLAG.ACK); // the last ACK starts nothing
  assert.equal(x.r.activeStreams, 0);

  x.seg(2, 0, 0, 'x', TCP_FLAG.ACK, 1);
  x.seg(2, 0, 1, '', TCP_FLAG.RST, 1);
  assert.equal(x.handlers[1]!.closed, true);

  x.seg(3, 0, 0, 'idle', TCP_FLAG.ACK, 2);
  x.r.expire(20);
  assert.equal(x.r.activeStreams, 1);
  x.r.expire(40);
  assert.equal(x.r.activeStreams, 0);
  assert.equal(x.r.stats()['streams_timed_out'], 1);
});

test('close() flushes held segments past their holes', () => {
  const x = new Harness(cfg());
  x.seg(1, 0, 0, '', TCP_FLAG.SYN);
  x.seg(1, 0, 5, 'later');
  x.r.close();
  assert.equal(x.h.text[0], 'later');
  assert.equal(x.h.closed, true);
});

test('max_concurrent_streams: the least recently used stream is evicted', () => {
  const x = new Harness(cfg({ maxConcurrentStreams: 3 }));
  for (let id = 0; id < 3; id++) x.seg(1, 0, 0, 'a', TCP_FLAG.ACK, id);
  x.seg(2, 0, 1, 'b', TCP_FLAG.ACK, 0); // stream 0 is now the most recent
  x.seg(3, 0, 0, 'c', TCP_FLAG.ACK, 3);
  assert.deepEqual(
    x.handlers.map((h) => h.closed),
    [false, true, false, false],
    'stream 1, the least recently used, went',
  );
  assert.equal(x.r.stats()['streams_evicted_max'], 1);
});

test('a global_memory_limit below 4 x per_stream_buffer_limit is refused with a clear message', () => {
  assert.throws(() => new Harness(cfg({ perStreamBufferLimit: 32768, globalMemoryLimit: 65536 })), /global_memory_limit \(65536\) must be at least/);
});

/** Full collections, with pauses for V8's concurrent ArrayBuffer sweeper to free backing stores. */
async function settle(gc: () => void): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('50,000 concurrent streams stay under global_memory_limit, evicting the least recently used', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const limit = 16 << 20;
  // Handlers that consume nothing (every stream keeps a partial message: the worst
  // case for memory) and keep nothing themselves, so that the process's buffers are the reassembler's.
  const x = new Harness(
    cfg({ maxConcurrentStreams: 100_000, perStreamBufferLimit: 4096, globalMemoryLimit: limit, streamTimeoutSec: 3600 }),
    () => new Holder(),
  );
  const N = 50_000;
  const partial = 'INVITE sip:bob@example.com SIP/2.0\r\nVia: x\r\n'.padEnd(600, 'x');
  await settle(gc);
  const before = process.memoryUsage().arrayBuffers;
  let maxSeen = 0;
  for (let id = 0; id < N; id++) {
    x.seg(1 + id / N, 0, 1000, partial, TCP_FLAG.ACK, id);
    // Streams 0..99 stay busy: they must survive while others come and go.
    if (id % 100 === 0) for (let k = 0; k < 100; k++) x.seg(1 + id / N, 1, 77, 'y', TCP_FLAG.ACK, k);
    if (x.r.memoryBytes > maxSeen) maxSeen = x.r.memoryBytes;
  }
  const s = x.r.stats();
  assert.equal(s['streams_created'], N);
  assert.ok(maxSeen <= limit, `accounted memory peaked at ${maxSeen} > ${limit}`);
  assert.ok(s['memory_peak']! <= limit);
  assert.ok(s['streams_evicted_memory']! > 0, 'evictions happened');
  assert.equal(s['active_streams']! + s['streams_evicted_memory']!, N);
  // Each stream costs its overhead and a leftover buffer; about limit / that many remain.
  const per = STREAM_OVERHEAD + 2048;
  assert.ok(s['active_streams']! >= Math.floor(limit / per) - 200, `only ${s['active_streams']} streams kept`);
  // LRU: the busy streams and the newest survived; the oldest idle ones went.
  assert.equal(x.handlers.slice(0, 100).filter((h) => h.closed).length, 0, 'recently used streams were kept');
  assert.equal(x.handlers[N - 1]!.closed, false);
  assert.equal(x.handlers[200]!.closed, true);
  // What the process really holds in buffers agrees with the accounting.
  await settle(gc);
  const held = process.memoryUsage().arrayBuffers - before;
  assert.ok(held <= limit, `buffers held by the process: ${held} bytes > ${limit}`);
});
