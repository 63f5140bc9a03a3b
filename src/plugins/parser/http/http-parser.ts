// Parser "http": HTTP/1.1 over reassembled TCP streams (a stream parser only:
// an HTTP message is not a packet, so with TCP reassembly off it reports
// nothing). Labels per DESIGN section 3: http.method, http.path, http.host on
// requests, http.status on responses.
import { z } from 'zod';
import type { ParseResult } from '../../../core/output.ts';
import type { DecodedPacket } from '../../../core/packet.ts';
import type { Parser, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import type { StreamHandler, StreamParser, StreamSink } from '../../../reassembly/api.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { HTTP_COUNTERS, HttpStream, type HttpCounter, type HttpCounters } from './http-stream.ts';

export const DEFAULT_HTTP_PORTS = [80, 8000, 8080] as const;

export const httpConfigSchema = z.strictObject({
  /** TCP streams with one of these ports on either side are HTTP (the server is the side on the port). */
  ports: z
    .array(z.number().int().min(1).max(65535))
    .min(1, 'at least one port')
    .default([...DEFAULT_HTTP_PORTS]),
});
export type HttpConfig = z.output<typeof httpConfigSchema>;

const CI = Object.fromEntries(HTTP_COUNTERS.map((n, i) => [n, i])) as Record<HttpCounter, number>;

export class HttpParser implements Parser, StreamParser, HttpCounters {
  private readonly ports = new Uint8Array(65536);
  private portList: number[] = [...DEFAULT_HTTP_PORTS];
  private readonly counters = new Float64Array(HTTP_COUNTERS.length);

  constructor() {
    for (const p of DEFAULT_HTTP_PORTS) this.ports[p] = 1;
  }

  init(config: PluginConfig, _ctx?: PluginContext): void {
    const cfg = parsePluginConfig(httpConfigSchema, config, 'parser http');
    this.ports.fill(0);
    for (const p of cfg.ports) this.ports[p] = 1;
    this.portList = [...cfg.ports];
  }

  /** Packets are never HTTP messages by themselves: only reassembled streams are. */
  canHandle(_pkt: DecodedPacket): boolean {
    return false;
  }

  handle(_pkt: DecodedPacket): ParseResult | null {
    return null;
  }

  streamPorts(): readonly number[] {
    return this.portList;
  }

  canHandleStream(pkt: DecodedPacket): boolean {
    return this.ports[pkt.srcPort] === 1 || this.ports[pkt.dstPort] === 1;
  }

  openStream(pkt: DecodedPacket, sink: StreamSink): StreamHandler {
    this.bump('streams');
    return new HttpStream(this, sink, this.ports[pkt.dstPort] === 1 ? 0 : 1);
  }

  bump(name: HttpCounter, n = 1): void {
    this.counters[CI[name]]! += n;
  }

  stats(): Record<string, number> {
    const s: Record<string, number> = {};
    for (let i = 0; i < HTTP_COUNTERS.length; i++) s[HTTP_COUNTERS[i]!] = this.counters[i]!;
    return s;
  }
}

registerPlugin('parser', 'http', () => new HttpParser());
