// The daemon's HTTP endpoint: Prometheus metrics at metrics.path, and
// /healthz for liveness probes (Kubernetes, load balancers, scripts).
import http from 'node:http';
import type { Registry } from 'prom-client';
import { OtusError } from '../core/errors.ts';

export interface HealthReport {
  status: 'ok' | 'stopping';
  [k: string]: unknown;
}

export interface MetricsServerOptions {
  listen: string;
  path: string;
  registry: Registry;
  health: () => HealthReport;
}

/** "127.0.0.1:9091", "[::1]:9091", ":9091" (all addresses). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new OtusError(`otus.metrics.listen: expected host:port (e.g. 127.0.0.1:9091), got "${listen}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export class MetricsServer {
  private server: http.Server | null = null;

  constructor(private readonly o: MetricsServerOptions) {}

  /** The address actually bound (port 0 picks a free one). */
  get address(): string | null {
    const a = this.server?.address();
    if (!a || typeof a === 'string') return null;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  async listen(): Promise<void> {
    const { host, port } = parseListen(this.o.listen);
    const server = http.createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 5000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new OtusError(`metrics endpoint: cannot listen on ${this.o.listen}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.message}`)),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    try {
      if (path === this.o.path) {
        const body = await this.o.registry.metrics();
        res.writeHead(200, { 'content-type': this.o.registry.contentType }).end(body);
      } else if (path === '/healthz') {
        const h = this.o.health();
        res.writeHead(h.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h) + '\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try ${this.o.path} or /healthz\n`);
      }
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${(e as Error).message}\n`);
    }
  }
}
