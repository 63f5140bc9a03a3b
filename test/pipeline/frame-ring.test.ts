import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createFrameRing, FrameRingReader, FrameRingWriter, RECORD_HEADER_BYTES } from '../../src/pipeline/frame-ring.ts';
import { capturedLength, frameBytes, newRawPacket } from '../../src/core/packet.ts';

/** A ring, its writer and reader, and a packet to push through it. */
function ringOf(size = 1 << 16) {
  const ring = createFrameRing(size);
  return { ring, w: new FrameRingWriter(ring), r: new FrameRingReader(ring), pkt: newRawPacket() };
}

function frame(i: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let k = 0; k < len; k++) b[k] = (i + k) & 0xff;
  return b;
}

test('frames come out in order with their metadata, across wrap-around', () => {
  const { w, r, pkt } = ringOf();
  let next = 0;
  let got = 0;
  for (let round = 0; round < 50; round++) {
    // Fill until full, then drain: exercises wrap markers at every offset.
    for (;;) {
      const len = 40 + ((next * 37) % 1400);
      pkt.data = frame(next, len);
      pkt.origLen = len + 4;
      pkt.tsSec = 1_700_000_000 + next;
      pkt.tsNsec = next * 1000;
      pkt.linkType = 1;
      pkt.ifIndex = next % 3;
      if (!w.push(pkt, next + 1)) break;
      next++;
    }
    const out = newRawPacket();
    r.drain(out, 1 << 30, (p, frameNo) => {
      const i = frameNo - 1;
      assert.equal(i, got);
      const len = 40 + ((i * 37) % 1400);
      assert.equal(capturedLength(p), len);
      assert.deepEqual(frameBytes(p), frame(i, len));
      assert.equal(p.origLen, len + 4);
      assert.equal(p.tsSec, 1_700_000_000 + i);
      assert.equal(p.tsNsec, i * 1000);
      assert.equal(p.ifIndex, i % 3);
      got++;
    });
    assert.equal(got, next);
    assert.ok(r.isEmpty());
  }
  assert.ok(got > 1000);
});

test('a full ring refuses instead of overwriting, and finishing is signalled', () => {
  const { w, r, pkt } = ringOf();
  pkt.data = frame(1, 1000);
  let n = 0;
  while (w.push(pkt, ++n));
  assert.ok(n > 50 && n < 70, `ring of 64 KiB took ${n - 1} frames of 1000 bytes`);
  assert.ok(w.usage() > 0.9);
  assert.equal(r.isFinished(), false);
  w.close();
  assert.equal(r.isFinished(), false); // records still to read
  let c = 0;
  r.drain(newRawPacket(), 1 << 30, () => c++);
  assert.equal(c, n - 1);
  assert.equal(r.isFinished(), true);
});

test('a producer and a consumer on two threads pass every frame intact', async () => {
  const ring = createFrameRing(1 << 16);
  const total = 20000;
  const src = `
    const { workerData } = require('node:worker_threads');
    const { ring, total, HDR } = workerData;
    const ctrl = new Int32Array(ring.control);
    const bytes = new Uint8Array(ring.data);
    const view = new DataView(ring.data);
    // A consumer written against the documented layout, to keep this test independent of the reader class.
    let read = 0, sum = 0, count = 0, bad = 0;
    while (count < total) {
      const write = Atomics.load(ctrl, 1);
      if (read === write) { Atomics.wait(ctrl, 1, write, 5); continue; }
      if (read + HDR > bytes.length || view.getUint32(read, true) === 0xffffffff) { read = 0; continue; }
      const len = view.getUint32(read, true);
      const frameNo = view.getUint32(read + 16, true);
      for (let k = 0; k < len; k++) if (bytes[read + HDR + k] !== ((frameNo + k) & 0xff)) bad++;
      sum += frameNo; count++;
      read += (HDR + len + 7) & ~7; if (read >= bytes.length) read = 0;
      Atomics.store(ctrl, 0, read); Atomics.notify(ctrl, 0);
    }
    require('node:worker_threads').parentPort.postMessage({ sum, count, bad });
  `;
  const worker = new Worker(src, { eval: true, workerData: { ring, total, HDR: RECORD_HEADER_BYTES } });
  const result = new Promise<{ sum: number; count: number; bad: number }>((res, rej) => {
    worker.once('message', res);
    worker.once('error', rej);
  });
  const w = new FrameRingWriter(ring);
  const pkt = newRawPacket();
  let expectSum = 0;
  for (let i = 1; i <= total; i++) {
    pkt.data = frame(i, 60 + (i % 200));
    while (!w.push(pkt, i)) w.waitForRoom(5);
    expectSum += i;
    if (i % 64 === 0) w.notify();
  }
  w.notify();
  const r = await result;
  await worker.terminate();
  assert.deepEqual(r, { sum: expectSum, count: total, bad: 0 });
});

test('a ring filled to its last byte from offset 0 refuses the record that would wrap the write index onto the unread start', () => {
  // Records of 256 bytes (40-byte header + 216-byte frame) fill a 64 KiB ring exactly: 256 of them.
  const { w, r, pkt } = ringOf();
  let pushed = 0;
  for (let i = 1; i <= 300; i++) {
    pkt.data = frame(i, 256 - RECORD_HEADER_BYTES);
    if (!w.push(pkt, i)) break;
    pushed++;
  }
  // The last record would end exactly at the end with nothing read: refused (the ring keeps one record's gap).
  assert.equal(pushed, 255);
  const seen: number[] = [];
  r.drain(newRawPacket(), 1 << 30, (_p, frameNo) => seen.push(frameNo));
  assert.deepEqual(seen, Array.from({ length: 255 }, (_, i) => i + 1), 'every pushed frame comes out; none is lost to an "empty" ring');
  // Room again: the refused frame and the next ones go in and come out.
  for (let i = 256; i <= 300; i++) {
    pkt.data = frame(i, 256 - RECORD_HEADER_BYTES);
    assert.equal(w.push(pkt, i), true);
  }
  const more: number[] = [];
  r.drain(newRawPacket(), 1 << 30, (p, frameNo) => {
    assert.deepEqual(frameBytes(p), frame(frameNo, 256 - RECORD_HEADER_BYTES));
    more.push(frameNo);
  });
  assert.deepEqual(more, Array.from({ length: 45 }, (_, i) => i + 256));
});

test('randomised pushes, stalls and partial drains: every accepted frame comes out once, in order, intact, across wraps', () => {
  let seed = 2026;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (const size of [1 << 16, (1 << 16) + 8 * 37]) {
    const { w, r, pkt } = ringOf(size);
    const out = newRawPacket();
    let next = 1;
    let expect = 1;
    let refused = 0;
    const lenOf = (i: number) => {
      // Records of 32-byte multiples (they tile the ring) and of any length (wrap markers at any offset).
      const k = (i * 2654435761) >>> 0;
      return k % 3 === 0 ? 1 + (k % 3000) : 32 * (2 + (k % 64)) - RECORD_HEADER_BYTES;
    };
    for (let step = 0; step < 4000; step++) {
      // Now and then the consumer stalls and the producer fills the ring until it refuses.
      for (let burst = rnd(8) === 0 ? Infinity : rnd(60); burst > 0; burst--) {
        pkt.data = frame(next, lenOf(next));
        if (!w.push(pkt, next)) {
          refused++;
          break;
        }
        next++;
      }
      r.drain(out, 1 + rnd(80), (p, frameNo) => {
        assert.equal(frameNo, expect, 'in order, none lost');
        assert.deepEqual(frameBytes(p), frame(frameNo, lenOf(frameNo)));
        expect++;
      });
    }
    r.drain(out, 1 << 30, (p, frameNo) => {
      assert.equal(frameNo, expect);
      assert.deepEqual(frameBytes(p), frame(frameNo, lenOf(frameNo)));
      expect++;
    });
    assert.equal(expect, next, `ring of ${size} bytes: every accepted frame came out`);
    assert.ok(refused > 0, 'the ring was full at times');
  }
});
