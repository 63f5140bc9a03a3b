import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sender } from '../../src/pipeline/sender.ts';
import type { OutputRecord } from '../../src/core/record.ts';
import type { Reporter } from '../../src/plugin/interfaces.ts';

function rec(i: number): OutputRecord {
  return {
    tsSec: i,
    tsNsec: 0,
    frameNo: i,
    protocol: 'raw',
    flow: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, proto: 17 },
    net: { ipVersion: 4, vlans: [], tunnel: null, fragmented: false, ttl: 64 },
    labels: {},
  };
}

/** A reporter that holds every batch until released, to simulate a stalled downstream. */
class GateReporter implements Reporter {
  got: number[] = [];
  private gate: Promise<void>;
  open!: () => void;
  constructor() {
    this.gate = new Promise((r) => (this.open = r));
  }
  init() {}
  async start() {}
  async report(batch: readonly OutputRecord[]) {
    await this.gate;
    for (const r of batch) this.got.push(r.frameNo);
  }
  async stop() {}
  stats() {
    return { reported: this.got.length, timeoutDrops: 0, errorDrops: 0 };
  }
}

test('a stalled reporter loses its oldest records (drop head), counted; another reporter loses nothing', async () => {
  const slow = new GateReporter();
  const fast = new GateReporter();
  fast.open();
  const s = new Sender([{ name: 'slow', reporter: slow }, { name: 'fast', reporter: fast }], 100, 10, false, () => {});
  // Batches arrive one at a time, as worker messages do, so a lane that keeps up drains between them.
  for (let b = 0; b < 30; b++) {
    s.enqueue(Array.from({ length: 10 }, (_, i) => rec(b * 10 + i + 1)));
    await new Promise((r) => setImmediate(r));
  }
  const st = s.stats();
  // The slow lane took its first batch (10) before stalling, then buffered at most 100.
  assert.equal(st[0]!.queued, 100);
  assert.equal(st[0]!.bufferDrops, 300 - 10 - 100);
  assert.equal(st[1]!.bufferDrops, 0);
  slow.open();
  await s.drain();
  assert.equal(slow.got.length, 110);
  // What survived is the first batch in flight and then the newest 100.
  assert.deepEqual(slow.got.slice(10), Array.from({ length: 100 }, (_, i) => 201 + i));
  assert.equal(fast.got.length, 300);
  const total = s.stats()[0]!;
  assert.equal(total.sent + total.bufferDrops, 300);
});

test('lossless mode never drops and resolves when every reporter took the batch', async () => {
  const r = new GateReporter();
  const s = new Sender([{ name: 'r', reporter: r }], 5, 3, true, () => {});
  let done = false;
  const p = s.enqueue(Array.from({ length: 20 }, (_, i) => rec(i + 1)))!;
  void p.then(() => (done = true));
  await new Promise((res) => setImmediate(res));
  assert.equal(done, false);
  r.open();
  await p;
  assert.equal(r.got.length, 20);
  assert.equal(s.stats()[0]!.bufferDrops, 0);
});

/** A reporter that finishes one report() per step(), in order. */
class StepReporter implements Reporter {
  got: number[] = [];
  private credits = 0;
  private waiting: (() => void)[] = [];
  init() {}
  async start() {}
  async report(batch: readonly OutputRecord[]) {
    if (this.credits > 0) this.credits--;
    else await new Promise<void>((r) => this.waiting.push(r));
    for (const r of batch) this.got.push(r.frameNo);
  }
  step() {
    const w = this.waiting.shift();
    if (w) w();
    else this.credits++;
  }
  async stop() {}
  stats() {
    return { reported: this.got.length, timeoutDrops: 0, errorDrops: 0 };
  }
}

const tick = () => new Promise((res) => setImmediate(res));

test('lossless mode resolves each batch once every reporter took that batch, not when the lanes are empty', async () => {
  const a = new StepReporter();
  const b = new StepReporter();
  const s = new Sender([{ name: 'a', reporter: a }, { name: 'b', reporter: b }], 1000, 10, true, () => {});
  const done: number[] = [];
  const batches = [1, 2, 3].map((k) => s.enqueue(Array.from({ length: 10 }, (_, i) => rec(10 * (k - 1) + i + 1)))!);
  batches.forEach((p, k) => void p.then(() => done.push(k + 1)));
  await tick();
  assert.deepEqual(done, []);
  a.step(); // a wrote batch 1, b not yet
  await tick();
  assert.deepEqual(done, []);
  b.step(); // both wrote batch 1: it resolves while batches 2 and 3 are still queued
  await tick();
  assert.deepEqual(done, [1]);
  a.step();
  a.step();
  b.step();
  await tick();
  assert.deepEqual(done, [1, 2]);
  b.step();
  await Promise.all(batches);
  assert.deepEqual(done, [1, 2, 3]);
  assert.deepEqual(a.got, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.deepEqual(b.got, a.got);
});

test('a reporter that throws does not stop its lane', async () => {
  let calls = 0;
  const errors: string[] = [];
  const bad: Reporter = {
    init() {},
    async start() {},
    async report() {
      calls++;
      throw new Error('boom');
    },
    async stop() {},
    stats: () => ({ reported: 0, timeoutDrops: 0, errorDrops: 0 }),
  };
  const s = new Sender([{ name: 'bad', reporter: bad }], 100, 2, false, (n, e) => errors.push(`${n}:${e.message}`));
  s.enqueue([rec(1), rec(2), rec(3)]);
  await s.drain();
  assert.equal(calls, 2);
  assert.deepEqual(errors, ['bad:boom', 'bad:boom']);
});

/** A line reporter: holds batches until released, records the lines it writes. */
class GateLineReporter extends GateReporter {
  lines: string[] = [];
  private gateL: Promise<void>;
  openL!: () => void;
  constructor() {
    super();
    this.gateL = new Promise((r) => (this.openL = r));
  }
  async reportLines(lines: Uint8Array, count: number) {
    await this.gateL;
    const l = Buffer.from(lines).toString('utf8').split('\n').slice(0, -1);
    assert.equal(l.length, count, 'count = lines in the text');
    this.lines.push(...l);
  }
}

test('batches of lines: delivered whole and in order; a stalled lane drops the oldest whole batches, counted', async () => {
  const slow = new GateLineReporter();
  const fast = new GateLineReporter();
  fast.openL();
  const s = new Sender([{ name: 'slow', reporter: slow }, { name: 'fast', reporter: fast }], 100, 10, false, () => {});
  const batch = (b: number) => ({ bytes: Buffer.from(Array.from({ length: 25 }, (_, i) => `line ${b * 25 + i + 1}\n`).join('')), count: 25 });
  for (let b = 0; b < 12; b++) {
    s.enqueue(batch(b));
    await new Promise((r) => setImmediate(r));
  }
  const st = s.stats();
  // The slow lane holds its first batch in flight and at most 100 queued records (4 batches of 25).
  assert.equal(st[0]!.queued, 100);
  assert.equal(st[0]!.bufferDrops, 300 - 25 - 100);
  assert.equal(st[1]!.bufferDrops, 0);
  slow.openL();
  await s.drain();
  assert.deepEqual(slow.lines, [...Array.from({ length: 25 }, (_, i) => `line ${i + 1}`), ...Array.from({ length: 100 }, (_, i) => `line ${201 + i}`)]);
  assert.equal(fast.lines.length, 300);
  assert.deepEqual(fast.lines.slice(0, 3), ['line 1', 'line 2', 'line 3']);
  assert.equal(s.stats()[0]!.sent + s.stats()[0]!.bufferDrops, 300);
});

test('record batches and line batches mix in one lane, in order (policy events beside a lines-only task)', async () => {
  const r = new GateLineReporter();
  r.open();
  r.openL();
  const s = new Sender([{ name: 'r', reporter: r }], 1000, 10, true, () => {});
  await s.enqueue({ bytes: Buffer.from('a\nb\n'), count: 2 });
  await s.enqueue([rec(7)]);
  await s.enqueue({ bytes: Buffer.from('c\n'), count: 1 });
  assert.deepEqual(r.lines, ['a', 'b', 'c']);
  assert.deepEqual(r.got, [7]);
  assert.equal(s.stats()[0]!.sent, 4);
});

test('a line batch is released once, after every lane is done with it: written, failed, or dropped by a full send buffer', async () => {
  const released: number[] = [];
  const batch = (b: number) => ({ bytes: Buffer.from(`line ${b}\n`.repeat(25)), count: 25, release: () => released.push(b) });

  // Two lanes, one held back: a batch is released only when the held lane has written it too.
  const slow = new GateLineReporter();
  const fast = new GateLineReporter();
  fast.openL();
  const s = new Sender([{ name: 'slow', reporter: slow }, { name: 'fast', reporter: fast }], 100, 10, false, () => {});
  for (let b = 0; b < 8; b++) {
    s.enqueue(batch(b));
    await new Promise((r) => setImmediate(r));
  }
  // The slow lane holds batch 0 in flight and 4 batches (100 records) queued: batches 1-3 were dropped from it.
  assert.deepEqual(released, [1, 2, 3], 'dropped by the slow lane and written by the fast one');
  slow.openL();
  await s.drain();
  assert.deepEqual(released.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7], 'each once');

  // A reporter that fails still lets go of the batch; a sender without reporters releases at once.
  const failing: Reporter = {
    init() {},
    async start() {},
    async report() {},
    async reportLines() {
      throw new Error('disk full');
    },
    async stop() {},
    stats: () => ({ reported: 0, timeoutDrops: 0, errorDrops: 0 }),
  };
  released.length = 0;
  const f = new Sender([{ name: 'f', reporter: failing }], 100, 10, true, () => {});
  await f.enqueue(batch(9));
  assert.deepEqual(released, [9]);
  const none = new Sender([], 100, 10, true, () => {});
  await none.enqueue(batch(10));
  assert.deepEqual(released, [9, 10]);
});
