// `otus daemon` (the daemon itself) and `otus status|stats|reload` (clients).
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { runControl, type ControlOptions } from './control-client.ts';
import { renderReload, renderStats, renderStatus } from './control-format.ts';

export async function daemonCommand(o: { config?: string; controlTimeout?: string }): Promise<number> {
  const configFile = o.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  let idle: number | undefined;
  if (o.controlTimeout !== undefined) {
    idle = Number(o.controlTimeout);
    if (!Number.isFinite(idle) || idle <= 0) throw new OtusError(`--control-timeout: expected seconds > 0, got "${o.controlTimeout}"`);
  }
  try {
    // Loaded here only: the clients below need none of the pipeline code the daemon brings in.
    const { runDaemon } = await import('../daemon/run-daemon.ts');
    return await runDaemon({ configFile, ...(idle !== undefined ? { controlIdleTimeoutMs: idle * 1000 } : {}) });
  } catch (e) {
    if (!(e instanceof OtusError)) throw e;
    process.stderr.write(`otus daemon: ${e.message}\n`);
    return 1;
  }
}

export const statusCommand = (o: ControlOptions) => runControl(o, 'daemon_status', undefined, renderStatus);
export const statsCommand = (o: ControlOptions) => runControl(o, 'daemon_stats', undefined, renderStats);
export const reloadCommand = (o: ControlOptions) => runControl(o, 'config_reload', undefined, renderReload);
