// The daemon (DESIGN section 2, main thread): global config, task manager,
// control socket, metrics endpoint, logging. It starts them in an order that
// never leaves a half-started daemon behind, and stops them the other way:
// the task first (capturers, pipelines, sender, reporters), then the control
// socket and the metrics endpoint, then the pid file.
import { existsSync } from 'node:fs';
import type { GlobalConfig } from '../config/global-schema.ts';
import { loadGlobalConfig, resolveNodeIp, type LoadedConfig } from '../config/load-global.ts';
import { ConfigError, OtusError } from '../core/errors.ts';
import { controlMethods } from '../control/methods.ts';
import { CommandChannel } from '../command/command-channel.ts';
import { ControlServer } from '../control/uds-server.ts';
import { Logging } from '../observe/logging.ts';
import type { Log } from '../observe/log-fn.ts';
import { createMetricsRegistry } from '../observe/metrics.ts';
import { MetricsServer } from '../observe/metrics-server.ts';
import { TaskStore } from '../task/persistence.ts';
import { TaskManager, type RunnerFactory, type TaskManagerSettings } from '../task/task-manager.ts';
import { inContainer } from './container.ts';
import { PidFile } from './pid-file.ts';
import { processStats } from './process-stats.ts';
import { diffConfig, needsRestart } from './config-diff.ts';
import { otusVersion } from './version.ts';
import { PolicyService } from '../policy/service.ts';
import { registerPolicyMetrics } from '../policy/metrics.ts';
import type { OutputRecord } from '../core/record.ts';

export interface DaemonOptions {
  /** null: built-in defaults plus OTUS_* variables. */
  configFile: string | null;
  env?: NodeJS.ProcessEnv;
  controlIdleTimeoutMs?: number;
  /** Tests replace the pipeline; the product always runs TaskRunner. */
  runnerFactory?: RunnerFactory;
  /** Default: detected (/.dockerenv, KUBERNETES_SERVICE_HOST...). */
  inContainer?: boolean;
}

export interface ReloadResult {
  config_file: string | null;
  changed: string[];
  /** Changed settings that only a restart applies (socket, pid file, metrics address, data_dir). */
  restart_needed: string[];
  log_level: string;
}

type Phase = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Runs a start step; an OS error (EACCES, EROFS...) becomes one line naming the step, not a stack. */
async function must(what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (e) {
    if (e instanceof OtusError) throw e;
    throw new OtusError(`${what}: ${(e as Error).message}`);
  }
}

function settingsOf(c: GlobalConfig): TaskManagerSettings {
  const p = c.otus.task_persistence;
  return { auto_restart: p.auto_restart, gc_interval: p.gc_interval, max_task_history: p.max_task_history, task_ttl: p.task_ttl };
}

/**
 * Loads and checks the global configuration, including the node IP
 * (ADR-023): a daemon that cannot say which node it is must not start.
 */
export function loadDaemonConfig(file: string | null, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const loaded = loadGlobalConfig(file, env);
  const ip = resolveNodeIp(loaded.config);
  if (!ip) throw new OtusError('cannot resolve the node IP: set OTUS_NODE_IP or otus.node.ip', 'NO_NODE_IP');
  loaded.config.otus.node.ip = ip;
  return loaded;
}

export class Daemon {
  private phase: Phase = 'created';
  private loaded!: LoadedConfig;
  private logging: Logging | null = null;
  private pidFile: PidFile | null = null;
  private manager: TaskManager | null = null;
  private control: ControlServer | null = null;
  private commands: CommandChannel | null = null;
  private metrics: MetricsServer | null = null;
  private policyService: PolicyService | null = null;
  /** Runners of live tasks: policy events go to their reporters. */
  private readonly runners = new Set<{ publish(records: OutputRecord[]): void }>();
  private startedAt = new Date();
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  /** Resolves once the daemon has stopped completely. */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly o: DaemonOptions) {}

  get config(): GlobalConfig {
    return this.loaded.config;
  }

  readonly log: Log = (level, msg, fields) => {
    if (this.logging) this.logging.log(level, msg, fields);
    else if (level !== 'debug') process.stderr.write(`otus: ${level}: ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
  };

  get metricsAddress(): string | null {
    return this.metrics?.address ?? null;
  }

  /** Throws OtusError (after undoing what it did) when the daemon cannot serve. */
  async start(): Promise<void> {
    if (this.phase !== 'created') throw new Error('a Daemon starts once');
    this.phase = 'starting';
    this.loaded = loadDaemonConfig(this.o.configFile, this.o.env);
    const c = this.loaded.config.otus;
    this.logging = new Logging(c.log, { hostname: c.node.hostname, inContainer: this.o.inContainer ?? inContainer(this.o.env) });
    try {
      this.pidFile = new PidFile(c.control.pid_file);
      await must(`pid file ${c.control.pid_file}`, () => this.pidFile!.acquire());

      const store = TaskStore.under(c.data_dir, c.task_persistence.enabled);
      await must(`task directory ${store.dir} (check otus.data_dir)`, () => store.init());
      this.manager = new TaskManager({
        store,
        runnerFactory: this.o.runnerFactory ?? this.pipelineRunner,
        log: this.log,
        settings: settingsOf(this.loaded.config),
      });

      const pc = c.policy;
      this.policyService = new PolicyService({
        dataDir: c.data_dir,
        log: this.log,
        persist: c.task_persistence.enabled,
        sink: (records) => {
          for (const r of this.runners) r.publish(records);
        },
        dataplane: {
          ...(pc.object ? { objectPath: pc.object } : {}),
          sessionsMax: pc.sessions_max,
          ringBufferBytes: pc.ring_buffer_kb * 1024,
          eventsNewSession: pc.events_new_session,
          eventIntervalMs: pc.event_interval * 1000,
        },
      });

      this.control = new ControlServer({
        path: c.control.socket,
        methods: controlMethods(this),
        log: this.log,
        ...(this.o.controlIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.o.controlIdleTimeoutMs } : {}),
      });
      await must(`control socket ${c.control.socket}`, () => this.control!.listen());

      if (c.command_channel.enabled) {
        // The same method table as the socket: a remote command runs exactly what a local one does.
        this.commands = new CommandChannel({ config: this.loaded.config, methods: controlMethods(this), log: this.log });
        await must('command channel', () => this.commands!.start());
      }

      if (c.metrics.enabled) {
        const manager = this.manager;
        const registry = createMetricsRegistry({
          tasks: () => manager.snapshots(),
          lokiDropped: () => this.logging?.lokiDropped() ?? 0,
          version: otusVersion(),
        });
        registerPolicyMetrics(registry, { figures: () => this.policyService?.figures() ?? null });
        this.metrics = new MetricsServer({ listen: c.metrics.listen, path: c.metrics.path, registry, health: () => this.health() });
        await this.metrics.listen();
      }

      await this.policyService.start();

      if (c.task_persistence.enabled) {
        const r = await this.manager.restore();
        if (r.resumed.length || r.failed.length || r.history) this.log('info', 'tasks restored', { ...r });
        await this.manager.gc();
        this.manager.startGc();
      }
    } catch (e) {
      await this.teardown();
      this.phase = 'stopped';
      this.resolveStopped();
      throw e;
    }
    this.startedAt = new Date();
    this.phase = 'running';
    this.log('info', 'daemon started', {
      version: otusVersion(),
      config_file: this.loaded.file,
      node_ip: c.node.ip,
      socket: c.control.socket,
      metrics: this.metricsAddress,
      data_dir: c.data_dir,
    });
  }

  /** Stops everything in order; a second call waits for the first. */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.phase = 'stopping';
      this.log('info', 'daemon stopping', { reason });
      await this.teardown();
      this.phase = 'stopped';
      this.resolveStopped();
    })();
    return this.stopping;
  }

  requestShutdown(reason: string): void {
    void this.stop(reason).catch((e) => this.log('error', 'shutdown failed', { error: (e as Error).message }));
  }

  /**
   * Reloads the global configuration (SIGHUP, config_reload). The running
   * task keeps the configuration it was started with (ADR-013); the log
   * level and outputs and the history GC change at once; new tasks get the
   * new configuration. An invalid file changes nothing.
   */
  async reload(): Promise<ReloadResult> {
    if (this.phase !== 'running') throw new OtusError(`cannot reload while the daemon is ${this.phase}`, 'SHUTTING_DOWN');
    const next = loadDaemonConfig(this.loaded.file, this.o.env);
    const changed = diffConfig(this.loaded.config, next.config);
    const restartNeeded = changed.filter(needsRestart);
    await this.logging!.reconfigure(next.config.otus.log);
    this.manager!.updateSettings(settingsOf(next.config));
    this.loaded = next;
    this.log('info', 'configuration reloaded', { changed, restart_needed: restartNeeded, log_level: next.config.otus.log.level });
    if (restartNeeded.length) this.log('warn', 'some changes take effect only after a restart', { settings: restartNeeded });
    return { config_file: next.file, changed, restart_needed: restartNeeded, log_level: this.logging!.level };
  }

  tasks(): TaskManager {
    if (!this.manager) throw new OtusError('the daemon is not running', 'SHUTTING_DOWN');
    return this.manager;
  }

  policy(): PolicyService {
    if (!this.policyService) throw new OtusError('the daemon is not running', 'SHUTTING_DOWN');
    return this.policyService;
  }

  status(): Record<string, unknown> {
    const c = this.loaded.config.otus;
    const active = this.manager?.active() ?? null;
    return {
      version: otusVersion(),
      pid: process.pid,
      state: this.phase,
      started_at: this.startedAt.toISOString(),
      uptime_sec: Math.round((Date.now() - this.startedAt.getTime()) / 100) / 10,
      node: { hostname: c.node.hostname, ip: c.node.ip, tags: c.node.tags },
      config_file: this.loaded.file,
      socket: c.control.socket,
      pid_file: c.control.pid_file,
      data_dir: c.data_dir,
      metrics: this.metricsAddress ? { address: this.metricsAddress, path: c.metrics.path } : null,
      log_level: this.logging?.level ?? c.log.level,
      task_persistence: c.task_persistence.enabled,
      active_task: active ? { id: active.id, state: active.state, restart_count: active.restart_count, started_at: active.started_at } : null,
      tasks: this.manager?.counts() ?? null,
    };
  }

  stats(): Record<string, unknown> {
    const active = this.manager?.active() ?? null;
    const st = active ? this.manager!.status(active.id) : null;
    return {
      process: processStats(),
      task: st ? { id: st.id, state: st.state, restart_count: st.restart_count, counters: st.counters, summary: st.summary } : null,
      tasks: this.manager?.counts() ?? null,
      log: { loki_dropped: this.logging?.lokiDropped() ?? 0 },
    };
  }

  private health() {
    const active = this.manager?.active() ?? null;
    return {
      status: this.phase === 'running' ? ('ok' as const) : ('stopping' as const),
      version: otusVersion(),
      uptime_sec: Math.round(process.uptime()),
      active_task: active ? { id: active.id, state: active.state } : null,
    };
  }

  private readonly pipelineRunner: RunnerFactory = async (task, log) => {
    // Said at once and naming the field, rather than as a failed task a moment later.
    if (task.capture.file !== undefined && !existsSync(task.capture.file)) {
      throw new ConfigError(`capture.file: ${task.capture.file}: no such file on this node`, 'capture.file');
    }
    // Loaded with the first task: a plugin module that fails to load fails that task, not the daemon.
    const { TaskRunner } = await import('../pipeline/task-runner.ts');
    const runner = new TaskRunner({ task, global: this.loaded.config, agent: this.loaded.config.otus.node.hostname, log });
    this.runners.add(runner);
    const forget = () => this.runners.delete(runner);
    runner.wait().then(forget, forget);
    return runner;
  };

  private async teardown(): Promise<void> {
    const step = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        this.log('error', `shutdown: ${what} failed`, { error: (e as Error).message });
      }
    };
    if (this.commands) await step('closing the command channel', () => this.commands!.stop());
    if (this.manager) await step('stopping the task', () => this.manager!.shutdown());
    if (this.policyService) await step('detaching the policy dataplane', async () => this.policyService!.stop());
    if (this.control) await step('closing the control socket', () => this.control!.close());
    if (this.metrics) await step('closing the metrics endpoint', () => this.metrics!.close());
    if (this.pidFile) await step('removing the pid file', () => this.pidFile!.release());
    if (this.phase === 'stopping') this.log('info', 'daemon stopped');
    if (this.logging) await step('closing the log', () => this.logging!.close());
  }

  /** Last resort on a fatal error: the files a next start would otherwise find stale. */
  async emergencyCleanup(): Promise<void> {
    await Promise.allSettled([this.control?.close(), this.pidFile?.release()]);
  }
}
