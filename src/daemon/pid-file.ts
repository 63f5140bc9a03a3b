// The pid file: one daemon per configuration. A file naming a live process
// refuses the start; one left by a dead process (crash, kill -9) is replaced.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OtusError } from '../core/errors.ts';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, belongs to someone else
  }
}

async function readPid(path: string): Promise<number | null> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export class PidFile {
  private held = false;

  constructor(readonly path: string) {}

  async acquire(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, 'wx', 0o644);
        try {
          await fh.writeFile(`${process.pid}\n`);
        } finally {
          await fh.close();
        }
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new OtusError(`cannot write the pid file ${this.path}: ${(e as Error).message}`);
      }
      const pid = await readPid(this.path);
      if (pid !== null && pid !== process.pid && isAlive(pid)) {
        throw new OtusError(`another otus daemon (pid ${pid}) is running: ${this.path}`, 'DAEMON_RUNNING');
      }
      // Stale: its process is gone (or the file is unreadable). Only the file the check saw may go.
      await unlink(this.path).catch(() => {});
    }
    throw new OtusError(`cannot take the pid file ${this.path}: it keeps reappearing (another daemon starting?)`, 'DAEMON_RUNNING');
  }

  /** Removes the file if it still names this process. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    if ((await readPid(this.path)) === process.pid) await unlink(this.path).catch(() => {});
  }
}
