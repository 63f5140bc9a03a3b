import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveMessageOnPort } from 'node:worker_threads';
import { LineBatchWriter } from '../../src/pipeline/line-batch.ts';

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

test('lines become UTF-8 bytes, each ending in a newline: ASCII, accents, CJK, emoji, a lone surrogate', () => {
  const w = new LineBatchWriter();
  const lines = ['{"a":1}', 'Zoë → Ωmega', '通話', 'call 📞 ok', 'lone \ud800 end', ''];
  for (const l of lines) w.add(l);
  assert.equal(w.count, lines.length);
  const { bytes, count } = w.take();
  assert.equal(count, lines.length);
  const expected = Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8');
  assert.deepEqual(Buffer.from(bytes), expected);
  assert.equal(w.count, 0, 'take starts a new batch');
});

test('a batch grows past its first buffer (lines of any size), and each take owns its own buffer', () => {
  const w = new LineBatchWriter();
  const big = 'x'.repeat(200_000);
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(i % 1000 === 0 ? big + i : `line ${i} ${'é'.repeat(i % 50)}`);
  for (const l of lines) w.add(l);
  const first = w.take();
  assert.equal(first.count, 3000);
  assert.equal(text(first.bytes), lines.join('\n') + '\n');
  w.add('next');
  const second = w.take();
  assert.notEqual(second.bytes.buffer, first.bytes.buffer);
  assert.equal(text(second.bytes), 'next\n');
  assert.equal(text(first.bytes), lines.join('\n') + '\n', 'the first batch is untouched by the next');
  // The buffer can be transferred to another thread (what the worker does).
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(second.bytes, [second.bytes.buffer as ArrayBuffer]);
  assert.equal(second.bytes.byteLength, 0, 'transferred: detached here');
  port1.close();
  port2.close();
});

test('buffers that come back are reused for later batches: large enough ones only, a bounded number', () => {
  const w = new LineBatchWriter();
  w.add('one');
  const first = w.take();
  // The buffer comes back the way the worker gets it: transferred over a port, read without yielding.
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(first.bytes.buffer, [first.bytes.buffer as ArrayBuffer]);
  const back = receiveMessageOnPort(port2)!.message as ArrayBuffer;
  assert.equal(back.byteLength >= 64 * 1024, true);
  w.recycle(back);
  // take() sets up the next batch's buffer: the recycled one.
  w.add('two');
  const second = w.take();
  w.add('three');
  const third = w.take();
  assert.equal(third.bytes.buffer, back, 'the batch after the recycle is written into the returned buffer');
  assert.equal(text(third.bytes), 'three\n');
  assert.equal(text(second.bytes), 'two\n');
  // A buffer smaller than a batch needs is not kept.
  const small = new ArrayBuffer(1024);
  w.recycle(small);
  w.take();
  w.add('four');
  assert.notEqual(w.take().bytes.buffer, small);
  // At most 16 are kept: the 17th is let go (each take then uses one of the 16).
  const many = Array.from({ length: 17 }, () => new ArrayBuffer(64 * 1024));
  for (const b of many) w.recycle(b);
  const used = new Set<ArrayBufferLike>();
  for (let i = 0; i < 17; i++) {
    w.add(`x${i}`);
    used.add(w.take().bytes.buffer);
  }
  assert.equal([...used].filter((b) => many.includes(b as ArrayBuffer)).length, 16);
  port1.close();
  port2.close();
});
