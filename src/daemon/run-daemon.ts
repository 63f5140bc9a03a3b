// Runs the daemon in the foreground until a signal or daemon_shutdown stops
// it: SIGTERM/SIGINT stop it in order, SIGHUP reloads the configuration, a
// second stop signal while stopping gives up waiting, and a fatal error
// leaves no stale socket or pid file behind.
import { Daemon, type DaemonOptions } from './daemon.ts';

/** Resolves with the process exit status. */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  const d = new Daemon(o);
  let started = false;
  let stopSignals = 0;
  let pendingStop: NodeJS.Signals | null = null;
  const onStop = (sig: NodeJS.Signals) => {
    if (!started) {
      pendingStop = sig; // stopping in the middle of the start would race it: stop right after
      return;
    }
    if (++stopSignals > 1) {
      d.log('warn', `${sig} again while stopping: exiting now`);
      void d.emergencyCleanup().finally(() => process.exit(1));
      return;
    }
    d.requestShutdown(sig);
  };
  const onHup = () => {
    if (!started) return; // the configuration being loaded is already the newest
    d.reload().catch((e: Error) => d.log('error', 'configuration not reloaded (SIGHUP); the previous one stays in force', { error: e.message }));
  };
  const onFatal = (e: unknown) => {
    d.log('error', 'fatal error: the daemon exits (its task resumes at the next start)', { error: (e as Error)?.stack ?? String(e) });
    void d.emergencyCleanup().finally(() => process.exit(1));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  try {
    await d.start();
  } finally {
    started = true;
  }
  if (pendingStop) onStop(pendingStop);

  await d.stopped;
  process.off('SIGTERM', onStop);
  process.off('SIGINT', onStop);
  process.off('SIGHUP', onHup);
  // Whatever a plugin may have left running must not keep a stopped daemon alive.
  setTimeout(() => process.exit(0), 3000).unref();
  return 0;
}
