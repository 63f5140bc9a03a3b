// The JSON and number texts payloads write directly: exactly what
// JSON.stringify and String make of the same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonString, jsonStrings, jsonStringOrNull, nineDigits, u32Text } from '../../src/core/json-text.ts';

test('u32Text is String(n) over the whole 32-bit range', () => {
  const edges = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10_000, 99_999, 100_000, 999_999, 1_000_000, 1_000_001, 4_294_999, 1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
  for (const n of edges) assert.equal(u32Text(n), String(n), `n = ${n}`);
  // Outside the range (no RTP field is): String's text.
  for (const n of [-1, 2 ** 32, 1.5, NaN, Infinity]) assert.equal(u32Text(n), String(n), `n = ${n}`);
  let x = 12345;
  for (let i = 0; i < 200_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    assert.equal(u32Text(x), String(x));
    const small = x % 5_000_000; // the one- and two-part forms
    assert.equal(u32Text(small), String(small));
  }
});

test('jsonString and friends equal JSON.stringify, escapes and non-ASCII included', () => {
  const samples = ['', 'abc', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u001f', 'caf\u00e9', '\ud83d\ude00', 'lone \ud800 surrogate', 'del\u007f'];
  for (const s of samples) assert.equal(jsonString(s), JSON.stringify(s));
  assert.equal(jsonStrings(samples), JSON.stringify(samples));
  assert.equal(jsonStrings([]), '[]');
  assert.equal(jsonStringOrNull(null), 'null');
  assert.equal(jsonStringOrNull('x'), '"x"');
});

test('nineDigits is the zero-padded nanosecond text; out-of-range values keep String\'s text', () => {
  for (const n of [0, 1, 999, 1000, 999_999, 1_000_000, 123_456_789, 999_999_999]) assert.equal(nineDigits(n), String(n).padStart(9, '0'));
  let x = 7;
  for (let i = 0; i < 100_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const n = x % 1e9;
    assert.equal(nineDigits(n), String(n).padStart(9, '0'));
  }
  for (const n of [1e9, 12_345_678_901, -1, 1.5]) assert.equal(nineDigits(n), String(n).padStart(9, '0'));
});
