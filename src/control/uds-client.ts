// The CLI's side of the control socket: one request, one response, and
// errors an operator can act on (not running, not allowed) instead of errno.
import net from 'node:net';
import { OtusError } from '../core/errors.ts';
import { LineReader } from './line-reader.ts';
import type { RpcErrorObject, RpcResponse } from './jsonrpc.ts';

/** The daemon is not there to answer: no socket, nobody listening, or no right to talk to it. */
export class DaemonUnreachableError extends OtusError {
  constructor(message: string) {
    super(message, 'DAEMON_UNREACHABLE');
    this.name = 'DaemonUnreachableError';
  }
}

/** The daemon answered with a JSON-RPC error. */
export class RpcCallError extends OtusError {
  constructor(readonly rpc: RpcErrorObject) {
    super(rpc.message, 'RPC_ERROR');
    this.name = 'RpcCallError';
  }
}

function unreachable(path: string, e: NodeJS.ErrnoException): DaemonUnreachableError {
  switch (e.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new DaemonUnreachableError(`the otus daemon is not running (nothing listens on ${path}); start it with "otus daemon" or "systemctl start otus"`);
    case 'EACCES':
    case 'EPERM':
      return new DaemonUnreachableError(`permission denied on ${path}: the control socket is for root only`);
    default:
      return new DaemonUnreachableError(`cannot reach the otus daemon on ${path}: ${e.message}`);
  }
}

let nextId = 1;

export async function callDaemon(path: string, method: string, params?: unknown, timeoutMs = 60_000): Promise<unknown> {
  const id = nextId++;
  const request = JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }) + '\n';
  const response = await new Promise<RpcResponse>((resolve, reject) => {
    const socket = net.connect(path);
    const reader = new LineReader(64 << 20);
    let connected = false;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    socket.setTimeout(timeoutMs, () => finish(() => reject(new DaemonUnreachableError(`the otus daemon did not answer ${method} within ${timeoutMs / 1000} s`))));
    socket.once('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (d: Buffer) => {
      for (const ev of reader.push(d)) {
        if (ev.kind !== 'line') continue;
        let msg: RpcResponse;
        try {
          msg = JSON.parse(ev.text) as RpcResponse;
        } catch {
          finish(() => reject(new OtusError(`the daemon sent something that is not JSON: ${ev.text.slice(0, 200)}`)));
          return;
        }
        finish(() => resolve(msg));
        return;
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(connected ? new DaemonUnreachableError(`connection to the daemon failed: ${e.message}`) : unreachable(path, e))));
    socket.on('close', () => finish(() => reject(new DaemonUnreachableError(`the daemon closed the connection without answering ${method}`))));
  });
  if ('error' in response) throw new RpcCallError(response.error);
  return response.result;
}
