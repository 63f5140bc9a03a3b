// Running peer tools on the same capture, for reference rates measured in the
// same run as ours.
import { spawnSync } from 'node:child_process';

export interface PeerRun {
  ok: boolean;
  seconds: number;
  /** Why the peer could not run (missing tool, error). */
  why?: string;
}

export function have(tool: string, versionArg = '--version'): boolean {
  const r = spawnSync(tool, [versionArg], { stdio: 'ignore' });
  return !r.error;
}

/** Wall time of one run of `cmd args` (stdout discarded), best of `repeat`. */
export function timeCommand(cmd: string, args: string[], repeat = 3): PeerRun {
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    const dt = (performance.now() - t0) / 1000;
    if (r.error) return { ok: false, seconds: 0, why: `${cmd}: ${r.error.message}` };
    if (r.status !== 0) return { ok: false, seconds: 0, why: `${cmd} exited ${r.status}: ${String(r.stderr).slice(0, 200)}` };
    best = Math.min(best, dt);
  }
  return { ok: true, seconds: best };
}
