// Runs test/policy/probe.ts inside a namespace and talks to it line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

const probeJs = fileURLToPath(new URL('./probe.js', import.meta.url));

export class Probe {
  private readonly waiting: ((v: Record<string, unknown>) => void)[] = [];
  private readonly queued: Record<string, unknown>[] = [];
  readonly lines: Record<string, unknown>[] = [];
  private readonly proc: ChildProcess;
  private exited = false;

  constructor(ns: string, args: string[]) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, probeJs, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.on('exit', () => (this.exited = true));
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const v = JSON.parse(l) as Record<string, unknown>;
      this.lines.push(v);
      const w = this.waiting.shift();
      if (w) w(v);
      else this.queued.push(v);
    });
  }

  /** The next line the probe prints (or a timeout error). */
  next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const q = this.queued.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`probe: no answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((v) => {
        clearTimeout(t);
        resolve(v);
      });
    });
  }

  async ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.next();
  }

  stop(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}
