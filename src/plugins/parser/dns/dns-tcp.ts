// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by its
// length in two bytes; several may share a segment or one may span many.
// After a mid-stream join or a hole the framing is lost, and a length prefix
// carries no magic: a candidate boundary is accepted only where a plausible
// header (standard query opcode, one question) is followed by a message that
// parses cleanly to exactly the announced length.
import type { StreamDir, StreamHandler, StreamSink } from '../../../reassembly/api.ts';
import type { DnsParser } from './dns-parser.ts';
import { DNS_HEADER_LEN, parseDnsMessage } from './message.ts';

export class DnsTcpStream implements StreamHandler {
  private readonly resync = [false, false];

  constructor(
    private readonly parser: DnsParser,
    private readonly sink: StreamSink,
  ) {}

  onData(dir: StreamDir, d: Uint8Array, start: number, end: number, gap: boolean): number {
    if (gap) this.resync[dir] = true;
    let p = start;
    for (;;) {
      if (this.resync[dir]) {
        const r = findBoundary(d, p, end);
        if (r < 0) {
          // Keep the last bytes: a boundary may start there.
          const keep = r === -1 ? Math.max(p, end - 1) : -2 - r;
          this.parser.bump('tcp_skipped_bytes', keep - p);
          return keep - start;
        }
        this.parser.bump('tcp_resyncs');
        this.parser.bump('tcp_skipped_bytes', r - p);
        p = r;
        this.resync[dir] = false;
      }
      if (end - p < 2) return p - start;
      const len = (d[p]! << 8) | d[p + 1]!;
      if (len < DNS_HEADER_LEN) {
        this.resync[dir] = true;
        p++;
        continue;
      }
      if (end - p - 2 < len) return p - start;
      const res = this.parser.handleMessage(d, p + 2, len);
      if (res !== null) {
        this.parser.bump('tcp_messages');
        this.sink.emit(dir, res);
      }
      p += 2 + len;
    }
  }

  onClose(): void {}
}

/** See the file comment. -1: none; -2 - i: a candidate at i needs more bytes. */
function findBoundary(d: Uint8Array, p: number, end: number): number {
  for (let i = p; i + 2 + DNS_HEADER_LEN <= end; i++) {
    const len = (d[i]! << 8) | d[i + 1]!;
    if (len < DNS_HEADER_LEN + 5) continue;
    const h = i + 2;
    if ((d[h + 2]! & 0x78) !== 0 || d[h + 4] !== 0 || d[h + 5] !== 1) continue; // opcode QUERY, QDCOUNT 1
    if (end - h < len) return -2 - i;
    const r = parseDnsMessage(d, h, len);
    if (r.message !== null && r.error === null && r.message.length === len) return i;
  }
  return -1;
}
