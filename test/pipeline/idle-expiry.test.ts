// Timeouts on a quiet live link (idle-expiry.ts): the clock rule itself, and
// end to end, a SIP/TCP stream that lost a segment and then fell silent has
// its hole skipped after gap_timeout and is timed out after stream_timeout
// while otus is still running, in dispatch and in binding mode (before, both
// waited for the next packet or the stop). Live runs need root, tcpreplay;
// they skip otherwise. Every namespace is removed, even on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdleExpiry } from '../../src/pipeline/idle-expiry.ts';
import { Pipeline } from '../../src/pipeline/pipeline.ts';
import { defaultDecoderConfig } from '../../src/decoder/api.ts';
import type { Parser } from '../../src/plugin/interfaces.ts';
import { netnsSkipReason, nsExec, withVethPair } from '../helpers/netns.ts';
import { runLive } from '../capture/live-run.ts';
import { eth, ipv4, tcp, V4A, V4B } from '../decoder/frames.ts';
import { pcapFile } from '../capture/pcap-build.ts';

test('the pipeline clock moves on by the wall time of a quiet second, never while packets come', () => {
  const calls: number[] = [];
  let last = 0;
  const p = { expire: (t: number) => calls.push(t), currentTime: () => last };
  const idle = new IdleExpiry(p, 10_000);
  assert.equal(idle.tick(0, 12_000), false, 'nothing seen yet: nothing to expire');
  last = 500.25; // a packet of wall time 500.25 s
  assert.equal(idle.tick(1, 12_100), false, 'a packet came this turn');
  assert.equal(idle.tick(1, 12_900), false, 'quiet for less than a second');
  assert.equal(idle.tick(1, 13_100), true);
  assert.deepEqual(calls, [500.25 + 1.0]);
  assert.equal(idle.tick(1, 13_600), false, 'at most once a second');
  assert.equal(idle.tick(1, 14_100), true);
  assert.deepEqual(calls, [501.25, 502.25]);
  assert.equal(idle.tick(2, 14_200), false, 'packets again: the clock is theirs');
  assert.equal(idle.tick(2, 14_900), false);
  assert.equal(calls.length, 2);
});

test("the pipeline passes the idle clock on to its parsers' timers", () => {
  const seen: number[] = [];
  const parser: Parser = { init() {}, canHandle: () => false, handle: () => null, stats: () => ({}), expire: (t) => seen.push(t) };
  const plain: Parser = { init() {}, canHandle: () => false, handle: () => null, stats: () => ({}) }; // no timers: skipped
  const p = new Pipeline({ decoder: defaultDecoderConfig(), parsers: [plain, parser], processors: [], unmatchedPolicy: 'drop', forms: { json: false, binary: false }, emit: () => {} });
  p.expire(1234.5);
  assert.deepEqual(seen, [1234.5]);
});

// ------------------------------------------------------------- live, end to end

const skip = netnsSkipReason('tcpreplay');
const work = mkdtempSync(join(tmpdir(), 'otus-idle-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const enc = new TextEncoder();

function options(callId: string): string {
  return (
    `OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK-${callId}\r\n` +
    `From: <sip:a@10.0.0.1>;tag=1\r\nTo: <sip:b@10.0.0.2>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`
  );
}

/** A handshake, then the first OPTIONS lost and the second one sent: a hole, then silence. */
function holeCapture(): string {
  const lost = enc.encode(options('idle-lost@test'));
  const kept = enc.encode(options('idle-kept@test'));
  const c2s = (seq: number, flags: number, body: Uint8Array, ack = 5001) =>
    eth(0x0800, ipv4({ src: V4A, dst: V4B, proto: 6 }, tcp({ sport: 5070, dport: 5060, seq, ack, flags }, body)));
  const s2c = eth(0x0800, ipv4({ src: V4B, dst: V4A, proto: 6 }, tcp({ sport: 5060, dport: 5070, seq: 5000, ack: 1001, flags: 0x12 }, new Uint8Array())));
  const frames = [c2s(1000, 0x02, new Uint8Array(), 0), s2c, c2s(1001, 0x10, new Uint8Array()), c2s(1001 + lost.length, 0x18, kept)];
  const file = join(work, 'hole.pcap');
  writeFileSync(file, pcapFile(frames.map((data, i) => ({ sec: 1000, frac: i, data }))));
  return file;
}

for (const mode of ['dispatch', 'binding'] as const) {
  test(`${mode}: on a quiet link a lost segment's hole is skipped and the stream timed out while otus runs`, { skip }, async () => {
    const pcap = holeCapture();
    const config = join(work, `idle-${mode}.yml`);
    writeFileSync(config, 'otus:\n  core:\n    decoder:\n      tcp_reassembly:\n        enabled: true\n        gap_timeout: 1s\n        stream_timeout: 2s\n');
    const live = await withVethPair(async (p) => {
      const task = join(work, `idle-${mode}.json`);
      writeFileSync(
        task,
        JSON.stringify({
          id: 'idle',
          workers: 1,
          capture: { name: 'afpacket', dispatch_mode: mode, interface: p.ifB, config: {} },
          parsers: [{ name: 'sip' }],
          reporters: [{ name: 'console', config: { format: 'json' } }],
        }),
      );
      // Sent at once, then nothing for 4.5 s of wall time before the stop.
      return runLive(p.nsB, ['--config', config, '--task', task], 1, async () => {
        await nsExec(p.nsA, 'tcpreplay', ['-q', '-t', '-i', p.ifA, pcap]);
      }, 4500);
    });
    assert.equal(live.code, 0, live.stderr);
    const sip = live.records.filter((r) => r.protocol === 'sip');
    assert.deepEqual(sip.map((r) => r.labels['sip.call-id']), ['idle-kept@test'], JSON.stringify(live.records));
    const d = (live.summary as unknown as { pipelines: { decoder: Record<string, number> } }).pipelines.decoder;
    assert.equal(d['tcp_gaps'], 1, JSON.stringify(d));
    assert.equal(d['tcp_streams_timed_out'], 1, 'timed out by the quiet clock, not closed at the stop');
    assert.equal(d['tcp_streams_closed'], 0);
  });
}
