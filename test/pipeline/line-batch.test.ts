import { test } from 'node:test';
import assert from 'node:assert/strict';
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
