// Reporter "hep": HEP v3 over UDP or TCP to a Homer collector (heplify-server,
// homer-app), so SIP, RTCP and DNS records feed Homer directly, as heplify
// does. Types without a HEP mapping are skipped (counted apart, not drops);
// a record too long for HEP3's 16-bit length is dropped (counted as an error
// drop and as oversize).
// A collector that is away costs records (counted), never the sender: UDP
// sends do not wait, TCP connects and writes are bounded by send_timeout.
import dgram from 'node:dgram';
import net from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../../../config/duration.ts';
import type { OutputRecord } from '../../../core/record.ts';
import type { PluginConfig, PluginContext, Reporter, ReporterStats } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { encodeHep, HEP_PROTO, HepOversizeError, type HepIdentity } from './hep-encode.ts';

const configSchema = z.strictObject({
  /** Collector "host:port" (IPv6 as "[addr]:port"). */
  address: z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/, 'host:port'),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  capture_id: z.number().int().min(0).max(0xffffffff).default(0),
  password: z.string().default(''),
  /** Chunk 0x13; default: the agent's hostname. */
  node_name: z.string().optional(),
  protocols: z.array(z.enum(Object.keys(HEP_PROTO) as [string, ...string[]])).default(['sip', 'rtcp', 'dns']),
  send_timeout: z.union([z.string(), z.number()]).optional(),
});

export interface HepReporterStats extends ReporterStats {
  skipped: number;
  /** Records dropped because their HEP packet would exceed 65535 bytes (also in errorDrops). */
  oversizeDrops: number;
}

export class HepReporter implements Reporter {
  private host = '';
  private port = 0;
  private transport: 'udp' | 'tcp' = 'udp';
  private id!: HepIdentity;
  private protocols = new Set<string>();
  private timeoutMs = 3000;
  private udp: dgram.Socket | null = null;
  private tcp: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private ctx!: PluginContext;
  private st = { reported: 0, timeoutDrops: 0, errorDrops: 0, skipped: 0, oversizeDrops: 0 };
  private lastWarn = 0;

  init(config: PluginConfig, ctx: PluginContext): void {
    const c = parsePluginConfig(configSchema, config, 'reporter hep');
    this.ctx = ctx;
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(c.address)!;
    this.host = m[1]!;
    this.port = Number(m[2]);
    if (this.port < 1 || this.port > 65535) throw new Error(`reporter hep: config.address: port ${this.port} out of range`);
    this.transport = c.transport;
    this.id = { captureId: c.capture_id, password: c.password, nodeName: c.node_name ?? ctx.agent };
    this.protocols = new Set(c.protocols);
    const t = c.send_timeout !== undefined ? parseDuration(c.send_timeout) : (ctx.global?.otus.backpressure.reporter.send_timeout ?? 3);
    if (t === null) throw new Error(`reporter hep: config.send_timeout: invalid duration ${JSON.stringify(c.send_timeout)}`);
    this.timeoutMs = Math.max(1, Math.round(t * 1000));
  }

  async start(): Promise<void> {
    if (this.transport === 'udp') {
      this.udp = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
      this.udp.on('error', (e) => this.warn('UDP socket error', e));
    } else {
      await this.connect().catch((e: Error) => this.warn('collector not reachable at start; retrying with each batch', e));
    }
  }

  private warn(msg: string, e: Error): void {
    if (Date.now() - this.lastWarn < 5000) return;
    this.lastWarn = Date.now();
    this.ctx.log('warn', `hep reporter: ${msg}`, {
      address: `${this.host}:${this.port}`,
      error: e.message,
      error_drops: this.st.errorDrops,
      timeout_drops: this.st.timeoutDrops,
      oversize_drops: this.st.oversizeDrops,
    });
  }

  private connect(): Promise<net.Socket> {
    if (this.tcp && !this.tcp.destroyed) return Promise.resolve(this.tcp);
    this.connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timeout after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        s.setNoDelay(true);
        s.on('error', (e) => this.warn('TCP connection error', e));
        s.on('close', () => {
          if (this.tcp === s) this.tcp = null;
        });
        this.tcp = s;
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    }).finally(() => (this.connecting = null));
    return this.connecting;
  }

  async report(batch: readonly OutputRecord[]): Promise<void> {
    const packets: Buffer[] = [];
    for (const r of batch) {
      let p: Buffer | null;
      try {
        p = this.protocols.has(r.protocol) ? encodeHep(r, this.id) : null;
      } catch (e) {
        if (!(e instanceof HepOversizeError)) throw e;
        this.st.oversizeDrops++;
        this.st.errorDrops++;
        this.warn(`a ${r.protocol} record does not fit a HEP packet; dropped`, e);
        continue;
      }
      if (p) packets.push(p);
      else this.st.skipped++;
    }
    if (packets.length === 0) return;
    if (this.transport === 'udp') await this.sendUdp(packets);
    else await this.sendTcp(packets);
  }

  private sendUdp(packets: Buffer[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let left = packets.length;
      for (const p of packets) {
        this.udp!.send(p, this.port, this.host, (err) => {
          if (err) {
            this.st.errorDrops++;
            this.warn('UDP send failed', err);
          } else this.st.reported++;
          if (--left === 0) resolve();
        });
      }
    });
  }

  private async sendTcp(packets: Buffer[]): Promise<void> {
    let s: net.Socket;
    try {
      s = await this.connect();
    } catch (e) {
      this.st.errorDrops += packets.length;
      this.warn('cannot connect', e as Error);
      return;
    }
    const data = Buffer.concat(packets);
    const ok = await new Promise<'ok' | 'error' | 'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), this.timeoutMs);
      s.write(data, (err) => {
        clearTimeout(t);
        resolve(err ? 'error' : 'ok');
      });
    });
    if (ok === 'ok') this.st.reported += packets.length;
    else {
      if (ok === 'timeout') this.st.timeoutDrops += packets.length;
      else this.st.errorDrops += packets.length;
      // A stalled or broken stream is cut: the next batch starts on a fresh connection.
      s.destroy();
      this.warn(`TCP write ${ok}`, new Error(ok));
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
    this.udp = null;
    if (this.tcp) {
      const s = this.tcp;
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          s.destroy();
          r();
        }, this.timeoutMs);
        s.end(() => {
          clearTimeout(t);
          r();
        });
      });
      this.tcp = null;
    }
  }

  stats(): HepReporterStats {
    return { ...this.st };
  }
}

registerPlugin('reporter', 'hep', () => new HepReporter());
