// A Loki stand-in on 127.0.0.1 for tests: records every push, and can be
// told to fail so that buffering and backoff can be observed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LokiPush {
  streams: { stream: Record<string, string>; values: [string, string][] }[];
}

export class LokiReceiver {
  readonly pushes: LokiPush[] = [];
  paths: string[] = [];
  /** HTTP status to answer with; 204 is Loki's success. */
  status = 204;
  private server: http.Server | null = null;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        this.paths.push(req.url ?? '');
        if (this.status < 300) this.pushes.push(JSON.parse(body) as LokiPush);
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every line received, in order, with its stream labels. */
  lines(): { labels: Record<string, string>; line: string }[] {
    return this.pushes.flatMap((p) => p.streams.flatMap((s) => s.values.map(([, line]) => ({ labels: s.stream, line }))));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
