// The local control channel (ADR-020): JSON-RPC 2.0 over a Unix domain
// socket, one JSON message per line. The socket file is mode 0600, so only
// root (the daemon's user) may steer it. Each connection is handled on its
// own: a client that stalls or floods is cut off without delaying the others.
import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import * as rpc from './jsonrpc.ts';
import { LineReader } from './line-reader.ts';
import { toRpcError } from './rpc-errors.ts';
import { prepareSocketPath } from './socket-file.ts';
import type { Log } from '../observe/log-fn.ts';

export type Method = (params: unknown) => unknown;

export interface ControlServerOptions {
  path: string;
  methods: Record<string, Method>;
  log: Log;
  /** A request line longer than this closes the connection. */
  maxRequestBytes?: number;
  /** A connection idle (or stuck in the middle of a request) this long is closed. */
  idleTimeoutMs?: number;
  maxConnections?: number;
}

export const DEFAULT_MAX_REQUEST_BYTES = 1 << 20;
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;

export class ControlServer {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly maxBytes: number;
  private readonly idleMs: number;

  constructor(private readonly o: ControlServerOptions) {
    this.maxBytes = o.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.idleMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  async listen(): Promise<void> {
    await prepareSocketPath(this.o.path);
    const server = net.createServer((s) => this.accept(s));
    server.maxConnections = this.o.maxConnections ?? 512;
    // The umask makes the file 0600 from its creation: a chmod afterwards would leave a window.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.o.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    await chmod(this.o.path, 0o600);
    server.on('error', (e) => this.o.log('error', 'control socket error', { error: e.message }));
    this.server = server;
  }

  /** Stops accepting, closes every connection, removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
    await unlink(this.o.path).catch(() => {});
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const reader = new LineReader(this.maxBytes);
    const queue: string[] = [];
    let busy = false;
    let closing = false;

    const send = (msg: rpc.RpcResponse | rpc.RpcResponse[]) => {
      if (socket.destroyed || socket.writableEnded) return;
      let text: string;
      try {
        text = JSON.stringify(msg);
      } catch (e) {
        text = JSON.stringify(rpc.errorResponse(null, rpc.INTERNAL_ERROR, `internal error: result not serialisable: ${(e as Error).message}`));
      }
      socket.write(text + '\n');
    };
    const closeWith = (msg: rpc.RpcResponse) => {
      closing = true;
      send(msg);
      socket.end();
      // A client that never reads must not keep the connection half-open.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length && !socket.destroyed) {
          const reply = await this.handleLine(queue.shift()!);
          if (reply) send(reply);
        }
      } finally {
        busy = false;
      }
    };

    socket.setTimeout(this.idleMs);
    socket.on('timeout', () => {
      if (busy || closing) return; // a long method (task start) is not the client's stall
      if (reader.pending > 0) closeWith(rpc.errorResponse(null, rpc.INVALID_REQUEST, `invalid request: incomplete request after ${this.idleMs / 1000} s`));
      else socket.destroy();
    });
    socket.on('data', (data: Buffer) => {
      if (closing) return;
      for (const ev of reader.push(data)) {
        if (ev.kind === 'overflow') {
          this.o.log('warn', 'control request too large: connection closed', { limit_bytes: this.maxBytes });
          closeWith(rpc.errorResponse(null, rpc.INVALID_REQUEST, `invalid request: larger than ${this.maxBytes} bytes; connection closed`));
          return;
        }
        queue.push(ev.text);
      }
      void pump();
    });
    socket.on('error', () => {}); // a client that vanishes is not the daemon's problem
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** One line: a request, a notification or a batch. Returns what to answer, if anything. */
  private async handleLine(text: string): Promise<rpc.RpcResponse | rpc.RpcResponse[] | null> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return rpc.errorResponse(null, rpc.PARSE_ERROR, `parse error: ${(e as Error).message}`);
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0) return rpc.errorResponse(null, rpc.INVALID_REQUEST, 'invalid request: empty batch');
      const out: rpc.RpcResponse[] = [];
      for (const m of msg) {
        const r = await this.handleOne(m);
        if (r) out.push(r);
      }
      return out.length ? out : null;
    }
    return this.handleOne(msg);
  }

  private async handleOne(msg: unknown): Promise<rpc.RpcResponse | null> {
    const checked = rpc.checkRequest(msg);
    if (!checked.ok) return checked.response;
    const { req } = checked;
    const notification = !('id' in req);
    const id = req.id ?? null;
    const method = Object.hasOwn(this.o.methods, req.method) ? this.o.methods[req.method] : undefined;
    if (!method) return notification ? null : rpc.errorResponse(id, rpc.METHOD_NOT_FOUND, `method not found: ${req.method}`);
    const t0 = performance.now();
    try {
      const result = await method(req.params);
      this.o.log('debug', 'control request', { method: req.method, ms: Math.round(performance.now() - t0) });
      return notification ? null : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (e) {
      const err = toRpcError(e);
      this.o.log(err.code === rpc.INTERNAL_ERROR ? 'error' : 'debug', 'control request failed', { method: req.method, code: err.code, error: err.message });
      return notification ? null : { jsonrpc: '2.0', id, error: err };
    }
  }
}
