// Makes the control socket's path ready: its directory exists, a socket left
// by a dead daemon is removed, and a live daemon or a foreign file is never
// taken over.
import { lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import { OtusError } from '../core/errors.ts';

/** True when something accepts connections on `path`. */
export function socketIsLive(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    const done = (live: boolean) => {
      c.destroy();
      resolve(live);
    };
    c.setTimeout(timeoutMs, () => done(true)); // accepted but silent: still someone's socket
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new OtusError(`${path} exists and is not a socket; remove it or set otus.control.socket to another path`);
  if (await socketIsLive(path)) throw new OtusError(`another daemon is listening on ${path}`, 'DAEMON_RUNNING');
  await unlink(path);
}
