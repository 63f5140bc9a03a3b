// SIP over a reassembled TCP stream: RFC 3261 18.3 framing (the header block,
// then Content-Length bytes of body), several messages per segment or one
// across many, CRLF keep-alives (RFC 5626), and resynchronisation to the next
// start line after a mid-stream join or a hole. An HTTP upgrade switches the
// direction to WebSocket (RFC 7118: one SIP message per WebSocket message).
// Every message goes through SipParser.handleMessage, exactly as a UDP
// datagram does, so labels, counters and SDP correlation are the same.
import type { StreamDir, StreamHandler, StreamSink } from '../../../reassembly/api.ts';
import { ascii, containsCi, CR, decimal, findHeader, findStartLine, headerEnd, LF, startsWith } from '../stream-text.ts';
import type { SipParser } from './sip-parser.ts';
import { looksLikeSip } from './sip-parser.ts';
import { copyPayload, findFrame, MAX_WS_PAYLOAD, readFrameHeader, WsFrameHeader, WsHeader, WsOpcode } from './websocket.ts';

const CONTENT_LENGTH = ascii('content-length');
const UPGRADE = ascii('upgrade');
const WEBSOCKET = ascii('websocket');
const GET = ascii('GET ');
const HTTP11_101 = ascii('HTTP/1.1 101');
const SIP20 = ascii('SIP/2.0');

const TEXT = 0;
const WS = 1;

/** A complete SIP start line: "SIP/2.0 NNN ..." or "METHOD uri SIP/2.0". */
export function isSipStartLine(d: Uint8Array, s: number, e: number): boolean {
  if (e - s < 12 || !looksLikeSip(d, s, e - s)) return false;
  if (startsWith(d, s, e, SIP20)) return d[s + 7] === 0x20 && decimal(d, s + 8, s + 11) >= 100;
  return e - s > 8 && startsWith(d, e - 7, e, SIP20) && d[e - 8] === 0x20;
}

const cl = new Int32Array(2);
const wh = new WsFrameHeader();

export class SipStream implements StreamHandler {
  private readonly mode = [TEXT, TEXT];
  private readonly resync = [false, false];
  /** WebSocket messages being reassembled from fragments, per direction. */
  private readonly frag: (Uint8Array | null)[] = [null, null];
  private readonly fragLen = [0, 0];
  private readonly fragOn = [false, false];
  private scratch = new Uint8Array(4096);

  constructor(
    private readonly parser: SipParser,
    private readonly sink: StreamSink,
    /** The direction from the client (whose WebSocket frames are masked). */
    private readonly clientDir: StreamDir,
    /** The stream is on a WebSocket port: after a gap its bytes are frames. */
    private readonly wsPort: boolean,
  ) {}

  onData(dir: StreamDir, d: Uint8Array, start: number, end: number, gap: boolean): number {
    if (gap) {
      this.resync[dir] = true;
      this.fragOn[dir] = false;
      if (this.wsPort) this.mode[dir] = WS;
    }
    return this.mode[dir] === WS ? this.frames(dir, d, start, end) - start : this.text(dir, d, start, end) - start;
  }

  onClose(): void {
    // A message cut by the end of the stream is not reported (it would be partial).
  }

  /** Frames SIP messages out of d[p, end); returns where it stopped. */
  private text(dir: StreamDir, d: Uint8Array, p: number, end: number): number {
    const parser = this.parser;
    for (;;) {
      if (this.resync[dir]) {
        const r = findStartLine(d, p, end, isStartOrUpgrade);
        if (r < 0) {
          const keep = r === -1 ? end : -2 - r;
          parser.bump('stream_skipped_bytes', keep - p);
          return keep;
        }
        parser.bump('stream_resyncs');
        parser.bump('stream_skipped_bytes', r - p);
        p = r;
        this.resync[dir] = false;
      }
      while (p < end && (d[p] === CR || d[p] === LF)) p++; // keep-alives and pongs
      if (p >= end) return p;
      if (startsWith(d, p, end, GET) || startsWith(d, p, end, HTTP11_101)) {
        const he = headerEnd(d, p, end);
        if (he < 0) return p;
        if (findHeader(d, p, he, UPGRADE, 0, cl) && containsCi(d, cl[0]!, cl[1]!, WEBSOCKET)) {
          if (d[p] === 0x47) parser.bump('ws_upgrades'); // count the request once
          this.mode[dir] = WS;
          return this.frames(dir, d, he, end);
        }
        // Plain HTTP on a SIP port: not ours.
        this.resync[dir] = true;
        p = he;
        continue;
      }
      if (end - p < 12) return p;
      if (!looksLikeSip(d, p, end - p)) {
        this.resync[dir] = true; // findStartLine is stricter than looksLikeSip: it moves on from p
        continue;
      }
      const he = headerEnd(d, p, end);
      if (he < 0) return p;
      // Content-Length is mandatory over TCP (RFC 3261 18.3); without it there is no body.
      let len = 0;
      if (findHeader(d, p, he, CONTENT_LENGTH, 0x6c, cl)) {
        len = decimal(d, cl[0]!, cl[1]!);
        if (len < 0) {
          // Unusable framing: report nothing, find the next message.
          this.resync[dir] = true;
          p = he;
          continue;
        }
      }
      const me = he + len;
      if (me > end) return p;
      this.message(dir, d, p, me - p);
      p = me;
    }
  }

  /** Reads WebSocket frames out of d[p, end); returns where it stopped. */
  private frames(dir: StreamDir, d: Uint8Array, p: number, end: number): number {
    const parser = this.parser;
    const h = wh;
    for (;;) {
      if (this.resync[dir]) {
        const r = findFrame(d, p, end, dir === this.clientDir);
        if (r < 0) {
          const keep = r === -1 ? end : -2 - r;
          parser.bump('stream_skipped_bytes', keep - p);
          return keep;
        }
        parser.bump('stream_resyncs');
        parser.bump('stream_skipped_bytes', r - p);
        p = r;
        this.resync[dir] = false;
      }
      if (p >= end) return p;
      const r = readFrameHeader(d, p, end, h);
      if (r === WsHeader.INCOMPLETE) return p;
      if (r === WsHeader.INVALID || h.payloadLen > MAX_WS_PAYLOAD) {
        this.resync[dir] = true;
        this.fragOn[dir] = false;
        p++;
        continue;
      }
      const s = p + h.headerLen;
      const fe = s + h.payloadLen;
      if (fe > end) return p;
      const op = h.opcode;
      if (op >= WsOpcode.CLOSE) {
        parser.bump('ws_control_frames'); // may come between the fragments of a message
      } else if (op === WsOpcode.CONTINUATION) {
        if (this.fragOn[dir]) {
          this.append(dir, d, s, h);
          if (h.fin) {
            this.fragOn[dir] = false;
            parser.bump('ws_fragmented');
            this.wsMessage(dir, this.frag[dir]!, 0, this.fragLen[dir]!);
          }
        }
      } else if (h.fin) {
        this.fragOn[dir] = false;
        if (h.masked) {
          if (this.scratch.length < h.payloadLen) this.scratch = new Uint8Array(Math.max(h.payloadLen, this.scratch.length * 2));
          copyPayload(d, s, h.payloadLen, true, h.maskAt, this.scratch, 0);
          this.wsMessage(dir, this.scratch, 0, h.payloadLen);
        } else this.wsMessage(dir, d, s, h.payloadLen);
      } else {
        this.fragOn[dir] = true;
        this.fragLen[dir] = 0;
        this.append(dir, d, s, h);
      }
      p = fe;
    }
  }

  /** Appends a frame's (unmasked) payload to the direction's fragment buffer. */
  private append(dir: StreamDir, d: Uint8Array, s: number, h: WsFrameHeader): void {
    const need = this.fragLen[dir]! + h.payloadLen;
    if (need > MAX_WS_PAYLOAD) {
      this.fragOn[dir] = false;
      return;
    }
    let b = this.frag[dir];
    if (b === null || b.length < need) {
      const nb = new Uint8Array(Math.max(need, 4096, b === null ? 0 : b.length * 2));
      if (b !== null) nb.set(b.subarray(0, this.fragLen[dir]!));
      this.frag[dir] = b = nb;
    }
    copyPayload(d, s, h.payloadLen, h.masked, h.maskAt, b, this.fragLen[dir]!);
    this.fragLen[dir] = need;
  }

  private wsMessage(dir: StreamDir, d: Uint8Array, s: number, n: number): void {
    let p = s;
    while (p < s + n && (d[p] === CR || d[p] === LF)) p++; // keep-alive messages
    if (p === s + n) return;
    this.parser.bump('ws_messages');
    this.message(dir, d, s, n);
  }

  private message(dir: StreamDir, d: Uint8Array, s: number, n: number): void {
    const res = this.parser.handleMessage(d, s, n, this.sink.now());
    if (res === null) return;
    this.parser.bump('tcp_messages');
    this.sink.emit(dir, res);
  }
}

function isStartOrUpgrade(d: Uint8Array, s: number, e: number): boolean {
  return isSipStartLine(d, s, e) || startsWith(d, s, e, GET) || startsWith(d, s, e, HTTP11_101);
}
