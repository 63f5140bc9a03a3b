// HTTP/1.x framing of a reassembled stream (http-stream.ts), on the cases the
// tshark comparison (test/reassembly) does not reach: a Content-Length that
// is not a number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParseResult } from '../../../src/core/output.ts';
import { HttpStream, type HttpCounter } from '../../../src/plugins/parser/http/http-stream.ts';

function harness() {
  const out: { dir: number; labels: Record<string, string> }[] = [];
  const counts = new Map<string, number>();
  const stream = new HttpStream(
    { bump: (k: HttpCounter, n = 1) => counts.set(k, (counts.get(k) ?? 0) + n) },
    { emit: (dir: 0 | 1, r: ParseResult) => out.push({ dir, labels: r.labels }), now: () => 0 },
    0,
  );
  const send = (dir: 0 | 1, text: string) => {
    const d = new TextEncoder().encode(text);
    return stream.onData(dir, d, 0, d.length, false);
  };
  return { out, counts, send, stream };
}

test('a request whose Content-Length is not a number loses its framing: not reported, counted, the next request found', () => {
  const h = harness();
  h.send(0, 'POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 12x\r\n\r\nsome body bytes\r\n' + 'GET /next HTTP/1.1\r\nHost: a.example\r\n\r\n');
  assert.deepEqual(
    h.out.map((m) => m.labels['http.method'] + ' ' + m.labels['http.path']),
    ['GET /next'],
  );
  assert.equal(h.counts.get('malformed'), 1);
});

test('a response that has no body whatever its headers say (to HEAD, 204, 304) keeps its framing with a bad Content-Length', () => {
  const h = harness();
  h.send(0, 'HEAD /a HTTP/1.1\r\nHost: a.example\r\n\r\n');
  h.send(1, 'HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n' + 'HTTP/1.1 304 Not Modified\r\nContent-Length: ?\r\n\r\n');
  assert.deepEqual(h.out.map((m) => m.labels['http.method'] ?? m.labels['http.status']), ['HEAD', '200', '304']);
  assert.equal(h.counts.get('malformed') ?? 0, 0);
});

test('a response with a bad Content-Length loses its framing; a request without one has no body', () => {
  const h = harness();
  h.send(0, 'GET /a HTTP/1.1\r\nHost: a.example\r\n\r\n');
  h.send(1, 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nxxxxx');
  assert.deepEqual(h.out.map((m) => m.labels['http.method'] ?? m.labels['http.status']), ['GET']);
  assert.equal(h.counts.get('malformed'), 1);
});
