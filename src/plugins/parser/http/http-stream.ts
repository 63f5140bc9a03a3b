// HTTP/1.1 messages out of a reassembled TCP stream (RFC 9112): requests
// from the client, responses from the server, bodies by Content-Length,
// chunked transfer coding, or until the connection closes; keep-alive and
// pipelining (responses are matched to requests in order, so a response to
// HEAD has no body). A message is reported when its last byte arrives; the
// body streams through without being kept. After a mid-stream join or a hole
// the direction resynchronises to the next start line.
import type { Labels, ParseResult, Payload } from '../../../core/output.ts';
import type { StreamDir, StreamHandler, StreamSink } from '../../../reassembly/api.ts';
import { ascii, containsCi, CR, decimal, findHeader, findStartLine, headerEnd, LF, lineEnd, startsWith } from '../stream-text.ts';

const HTTP1 = ascii('HTTP/1.');
const CONTENT_LENGTH = ascii('content-length');
const TRANSFER_ENCODING = ascii('transfer-encoding');
const CHUNKED = ascii('chunked');
const HOST = ascii('host');
const CONTENT_TYPE = ascii('content-type');

/** Counters the stream handlers add to (owned by the parser). */
export interface HttpCounters {
  bump(name: HttpCounter, n?: number): void;
}
export const HTTP_COUNTERS = [
  'streams',
  'requests',
  'responses',
  'chunked', // messages with a chunked body
  'until_close', // responses whose body ran to the end of the connection
  'pipelined', // requests sent before the response to the previous one
  'resyncs',
  'skipped_bytes',
  'malformed', // start lines or framing that could not be read (the direction resynchronises)
  'incomplete', // messages cut by the end of the stream, not reported
  'upgraded', // 101 Switching Protocols: the rest of the stream is not HTTP
] as const;
export type HttpCounter = (typeof HTTP_COUNTERS)[number];

/** A request or status line: "METHOD target HTTP/1.x" or "HTTP/1.x NNN reason". */
export function isHttpStartLine(d: Uint8Array, s: number, e: number): boolean {
  if (startsWith(d, s, e, HTTP1)) return e - s >= 12 && d[s + 8] === 0x20 && decimal(d, s + 9, s + 12) >= 100;
  let p = s;
  while (p < e && d[p]! >= 0x41 && d[p]! <= 0x5a) p++;
  if (p - s < 3 || p - s > 16 || d[p] !== 0x20) return false;
  return e - s > 10 && startsWith(d, e - 8, e, HTTP1) && d[e - 9] === 0x20;
}

function text(d: Uint8Array, s: number, e: number): string {
  return Buffer.from(d.buffer, d.byteOffset + s, e - s).toString('latin1');
}

export class HttpPayload implements Payload {
  readonly type = 'http';
  constructor(
    private readonly json: Record<string, unknown>,
    /** A copy of the start line and headers (the body is not kept). */
    private readonly head: Uint8Array,
  ) {}
  toJSON(): unknown {
    return this.json;
  }
  toBinary(): Uint8Array {
    return this.head;
  }
}

// Body framing states, per direction.
const HEAD = 0;
const BODY = 1; // `remaining` bytes
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3; // `remaining` bytes, then CRLF
const CHUNK_END = 4; // the CRLF after a chunk's data
const TRAILER = 5;
const UNTIL_CLOSE = 6;
const DONE = 7; // upgraded or tunnelled: not HTTP any more

const hv = new Int32Array(2);

interface Pending {
  json: Record<string, unknown>;
  labels: Labels;
  head: Uint8Array;
  bodyLength: number;
}

export class HttpStream implements StreamHandler {
  private readonly state = [HEAD, HEAD];
  private readonly remaining = [0, 0];
  private readonly resync = [false, false];
  private readonly msg: (Pending | null)[] = [null, null];
  /** Methods of the requests not answered yet, oldest first. */
  private readonly methods: string[] = [];

  constructor(
    private readonly counters: HttpCounters,
    private readonly sink: StreamSink,
    private readonly clientDir: StreamDir,
  ) {}

  onData(dir: StreamDir, d: Uint8Array, start: number, end: number, gap: boolean): number {
    if (gap) {
      if (this.state[dir] === DONE) return end - start;
      this.resync[dir] = true;
      this.state[dir] = HEAD;
      this.msg[dir] = null;
      if (dir === this.clientDir) this.methods.length = 0; // the pairing is lost with the requests
    }
    return this.run(dir, d, start, end) - start;
  }

  onEnd(dir: StreamDir): void {
    if (this.state[dir] === UNTIL_CLOSE && this.msg[dir] !== null) {
      this.counters.bump('until_close');
      this.finish(dir);
    }
  }

  onClose(): void {
    for (let dir = 0; dir < 2; dir++) {
      const m = this.msg[dir];
      if (m === null) continue;
      if (this.state[dir] === UNTIL_CLOSE) {
        this.counters.bump('until_close');
        this.finish(dir as StreamDir);
      } else this.counters.bump('incomplete');
    }
  }

  private run(dir: StreamDir, d: Uint8Array, p: number, end: number): number {
    const c = this.counters;
    for (;;) {
      switch (this.state[dir]) {
        case DONE:
          return end;
        case UNTIL_CLOSE:
          this.msg[dir]!.bodyLength += end - p;
          return end;
        case BODY: {
          const n = Math.min(this.remaining[dir]!, end - p);
          this.remaining[dir]! -= n;
          this.msg[dir]!.bodyLength += n;
          p += n;
          if (this.remaining[dir] === 0) this.finish(dir);
          else return p;
          break;
        }
        case CHUNK_SIZE: {
          const le = lineEnd(d, p, end);
          if (le < 0) return end - p > 1024 ? this.lose(dir, end) : p;
          let q = p;
          let size = 0;
          while (q < le && hexVal(d[q]!) >= 0) size = size * 16 + hexVal(d[q++]!);
          if (q === p || size > 0x7fffffff) {
            c.bump('malformed');
            p = this.lose(dir, le + 1);
            break;
          }
          p = le + 1;
          if (size === 0) this.state[dir] = TRAILER;
          else {
            this.state[dir] = CHUNK_DATA;
            this.remaining[dir] = size;
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.remaining[dir]!, end - p);
          this.remaining[dir]! -= n;
          this.msg[dir]!.bodyLength += n;
          p += n;
          if (this.remaining[dir] !== 0) return p;
          this.state[dir] = CHUNK_END;
          break;
        }
        case CHUNK_END: {
          const le = lineEnd(d, p, end);
          if (le < 0) return end - p > 2 ? this.lose(dir, end) : p;
          p = le + 1;
          this.state[dir] = CHUNK_SIZE;
          break;
        }
        case TRAILER: {
          // Trailer fields, then an empty line.
          const le = lineEnd(d, p, end);
          if (le < 0) return p;
          const empty = le === p || (le === p + 1 && d[p] === CR);
          p = le + 1;
          if (empty) this.finish(dir);
          break;
        }
        default: {
          // HEAD: a start line and headers.
          if (this.resync[dir]) {
            const r = findStartLine(d, p, end, isHttpStartLine);
            if (r < 0) {
              const keep = r === -1 ? end : -2 - r;
              c.bump('skipped_bytes', keep - p);
              return keep;
            }
            c.bump('resyncs');
            c.bump('skipped_bytes', r - p);
            p = r;
            this.resync[dir] = false;
          }
          while (p < end && (d[p] === CR || d[p] === LF)) p++;
          if (p >= end) return p;
          const he = headerEnd(d, p, end);
          if (he < 0) return p;
          const le = lineEnd(d, p, he);
          const se = le > p && d[le - 1] === CR ? le - 1 : le;
          if (!isHttpStartLine(d, p, se)) {
            c.bump('malformed');
            this.resync[dir] = true;
            p = le + 1;
            break;
          }
          this.head(dir, d, p, se, he);
          p = he;
        }
      }
    }
  }

  /** Gives up on the direction's current message and resynchronises from `p`. */
  private lose(dir: StreamDir, p: number): number {
    this.counters.bump('malformed');
    this.msg[dir] = null;
    this.state[dir] = HEAD;
    this.resync[dir] = true;
    return p;
  }

  /** A header block d[s, he) with its start line d[s, se): decides how the body is framed. */
  private head(dir: StreamDir, d: Uint8Array, s: number, se: number, he: number): void {
    const c = this.counters;
    const isResponse = startsWith(d, s, se, HTTP1);
    const headers: [string, string][] = [];
    let i = lineEnd(d, s, he) + 1;
    while (i < he) {
      const le = lineEnd(d, i, he);
      const e = le > i && d[le - 1] === CR ? le - 1 : le;
      if (e === i) break;
      let k = i;
      while (k < e && d[k] !== 0x3a) k++;
      if (k < e) {
        let v = k + 1;
        while (v < e && (d[v] === 0x20 || d[v] === 0x09)) v++;
        headers.push([text(d, i, k), text(d, v, e)]);
      }
      i = le + 1;
    }
    const ctype = findHeader(d, s, he, CONTENT_TYPE, 0, hv) ? text(d, hv[0]!, hv[1]!) : null;
    const chunked = findHeader(d, s, he, TRANSFER_ENCODING, 0, hv) && containsCi(d, hv[0]!, hv[1]!, CHUNKED);
    const hasLength = !chunked && findHeader(d, s, he, CONTENT_LENGTH, 0, hv);
    const clen = hasLength ? decimal(d, hv[0]!, hv[1]!) : -1;
    let json: Record<string, unknown>;
    let labels: Labels;
    let noBody = false;
    let untilClose = false;
    if (isResponse) {
      const status = decimal(d, s + 9, s + 12);
      const version = text(d, s, s + 8);
      const reason = se > s + 13 ? text(d, s + 13, se) : '';
      const method = status >= 200 || status === 101 ? this.methods.shift() ?? null : this.methods[0] ?? null;
      c.bump('responses');
      labels = { 'http.status': String(status) };
      json = { kind: 'response', version, status, reason, request_method: method, headers, content_type: ctype };
      noBody = method === 'HEAD' || status < 200 || status === 204 || status === 304;
      if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) {
        c.bump('upgraded');
        this.state[0] = this.state[1] = DONE;
      }
      untilClose = !noBody && !chunked && clen < 0;
    } else {
      let q = s;
      while (d[q] !== 0x20) q++;
      const method = text(d, s, q);
      const ts = q + 1;
      const te = se - 9;
      let pe = ts;
      while (pe < te && d[pe] !== 0x3f) pe++; // the path ends at "?"
      const target = text(d, ts, te);
      const path = text(d, ts, pe);
      const host = findHeader(d, s, he, HOST, 0, hv) ? text(d, hv[0]!, hv[1]!) : null;
      c.bump('requests');
      if (this.methods.length > 0) c.bump('pipelined');
      this.methods.push(method);
      labels = { 'http.method': method, 'http.path': path };
      if (host !== null) labels['http.host'] = host;
      json = { kind: 'request', version: text(d, se - 8, se), method, target, host, headers, content_type: ctype };
      noBody = !chunked && clen <= 0;
    }
    if (hasLength && clen < 0 && !(isResponse && noBody)) {
      // A Content-Length that is not a number (RFC 9112 6.3): where this
      // message ends is unknown, so the framing is lost. Unless it is a
      // response that has no body whatever its headers say (HEAD, 1xx, 204, 304).
      this.lose(dir, he);
      return;
    }
    json['chunked'] = chunked;
    this.msg[dir] = { json, labels, head: d.slice(s, he), bodyLength: 0 };
    if (this.state[dir] === DONE) {
      this.finish(dir);
      this.state[dir] = DONE;
      return;
    }
    if (noBody) this.finish(dir);
    else if (chunked) {
      c.bump('chunked');
      this.state[dir] = CHUNK_SIZE;
    } else if (untilClose) this.state[dir] = UNTIL_CLOSE;
    else {
      this.state[dir] = BODY;
      this.remaining[dir] = clen;
    }
  }

  private finish(dir: StreamDir): void {
    const m = this.msg[dir]!;
    this.msg[dir] = null;
    this.state[dir] = HEAD;
    m.json['body_length'] = m.bodyLength;
    const res: ParseResult = { payload: new HttpPayload(m.json, m.head), labels: m.labels };
    this.sink.emit(dir, res);
  }
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
