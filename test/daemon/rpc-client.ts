// Raw access to a control socket for tests: send any bytes, read what comes
// back, see whether the daemon closed the connection.
import { execFileSync } from 'node:child_process';
import net from 'node:net';

export interface Exchange {
  lines: unknown[];
  closed: boolean;
  error: string | null;
}

/** Sends `data` (none: connect only) and collects replies until `expect` lines arrived, the peer closed, or `ms` passed. */
export function exchange(path: string, data: string | Buffer | null, o: { expect?: number; ms?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const out: Exchange = { lines: [], closed: false, error: null };
    let buf = '';
    const timer = setTimeout(() => done(), o.ms ?? 5000);
    let finished = false;
    const done = () => {
      // Once: the close that our own destroy() causes must not pass for the peer closing.
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    s.on('connect', () => {
      if (data !== null) s.write(data);
    });
    s.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        out.lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      if (o.expect !== undefined && out.lines.length >= o.expect) done();
    });
    s.on('error', (e) => {
      out.error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    s.on('close', () => {
      if (finished) return;
      out.closed = true;
      done();
    });
  });
}

export async function call(path: string, method: string, params?: unknown, id: number | string = 1): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> {
  const r = await exchange(path, JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }) + '\n', { expect: 1, ms: 30_000 });
  if (!r.lines.length) throw new Error(`no answer to ${method}: ${r.error ?? 'closed'}`);
  return r.lines[0] as never;
}

/**
 * Tries to connect to `path` as the unprivileged user "nobody"; null when no
 * tool can switch users here (the test then says so and skips).
 */
export function connectAsNobody(path: string): 'connected' | 'denied' | null {
  const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError: print('denied')\n`;
  for (const cmd of [
    ['runuser', '-u', 'nobody', '--', 'python3', '-c', py, path],
    ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'python3', '-c', py, path],
  ]) {
    try {
      const out = execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      if (out === 'connected' || out === 'denied') return out;
    } catch {
      // tool missing or not allowed: try the next
    }
  }
  return null;
}
