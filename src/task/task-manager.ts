// The daemon's tasks (ADR-014, ADR-030, ADR-031): creates and stops them,
// keeps their records on disk, resumes the interrupted ones at start, and
// prunes the history. Phase 1: at most one active task.
//
// Operations that change which task runs (create, delete, restore, shutdown)
// are serialised, so two clients racing for the single slot cannot both win.
// A file task that ends by itself is recorded as it ends, outside that lock.
import { ConfigError, OtusError } from '../core/errors.ts';
import type { Log } from '../observe/log-fn.ts';
import type { TaskSummary } from '../pipeline/task-runner.ts';
import type { TaskStore, PersistedTask } from './persistence.ts';
import { countersOf, type TaskCounters } from './task-counters.ts';
import { TaskError } from './task-errors.ts';
import { parseTask, taskSchema, type TaskConfig } from './task-schema.ts';
import { isActive, isTerminal, type TaskState } from './task-state.ts';

export type { Log };

/** What the manager needs of a TaskRunner. */
export interface TaskRunnerLike {
  start(): Promise<void>;
  wait(): Promise<TaskSummary>;
  stop(): Promise<TaskSummary>;
  summary(): TaskSummary;
}

export type RunnerFactory = (task: TaskConfig, log: Log) => TaskRunnerLike | Promise<TaskRunnerLike>;

export interface TaskManagerSettings {
  auto_restart: boolean;
  /** Seconds. */
  gc_interval: number;
  /** 0 disables the in-process GC (tmpfiles.d alone prunes, ADR-031). */
  max_task_history: number;
  /** Seconds a finished task is kept. */
  task_ttl: number;
}

export interface TaskManagerOptions {
  store: TaskStore;
  runnerFactory: RunnerFactory;
  log: Log;
  settings: TaskManagerSettings;
  /** How long a shutdown or a delete waits for the task to stop before giving up on it. */
  stopTimeoutMs?: number;
  /** How long a start may take; past it the task is failed and the slot freed. */
  startTimeoutMs?: number;
}

export interface TaskView {
  id: string;
  state: TaskState;
  created_at: string;
  started_at: string | null;
  stopped_at: string | null;
  restart_count: number;
  failure_reason: string;
  /** The capture file or interface, for lists. */
  source: string | null;
}

export interface TaskStatusView extends TaskView {
  config: unknown;
  counters: TaskCounters | null;
  summary: TaskSummary | null;
}

export interface TaskSnapshot {
  id: string;
  state: TaskState;
  restartCount: number;
  summary: TaskSummary | null;
}

export interface RestoreReport {
  resumed: string[];
  failed: string[];
  history: number;
}

interface Entry {
  id: string;
  record: PersistedTask;
  task: TaskConfig | null;
  runner: TaskRunnerLike | null;
  /** Why the runner is being stopped; null while it may still end by itself. */
  stopIntent: 'delete' | 'shutdown' | null;
  lastSummary: TaskSummary | null;
}

const nowIso = () => new Date().toISOString();

/** A task refused for its content (bad plugin config, unknown plugin): not worth keeping as history. */
function isInvalidTask(e: unknown): boolean {
  return e instanceof ConfigError || (e instanceof OtusError && e.code === 'UNKNOWN_PLUGIN');
}

/** Why a stored task cannot be started again, in the words of the validator. */
function invalidReason(config: unknown, fileId: string): string {
  const parsed = taskSchema.safeParse(config);
  if (parsed.success) return `its id "${parsed.data.id}" does not match the file name "${fileId}.json"`;
  try {
    parseTask(config, 'stored task');
  } catch (e) {
    return (e as Error).message;
  }
  return 'invalid';
}

function sourceOf(config: unknown): string | null {
  const c = (config as { capture?: { file?: unknown; interface?: unknown } } | null)?.capture;
  const s = c?.file ?? c?.interface;
  return typeof s === 'string' ? s : null;
}

export class TaskManager {
  private readonly entries = new Map<string, Entry>();
  private lockTail: Promise<unknown> = Promise.resolve();
  private closing = false;
  private gcTimer: NodeJS.Timeout | null = null;
  private settings: TaskManagerSettings;

  constructor(private readonly o: TaskManagerOptions) {
    this.settings = { ...o.settings };
  }

  // ------------------------------------------------------------ operations

  /** Validates, records and starts a task. Throws ConfigError (bad task) or TaskError. */
  async create(input: unknown): Promise<TaskView> {
    const task = parseTask(input, 'task');
    return this.exclusive(() => this.doCreate(task));
  }

  /** Stops an active task (kept as stopped history); removes a finished one from the history. */
  delete(id: string): Promise<TaskView & { removed: boolean }> {
    return this.exclusive(() => this.doDelete(id));
  }

  list(): TaskView[] {
    return [...this.entries.values()].sort((a, b) => a.record.created_at.localeCompare(b.record.created_at)).map((e) => this.view(e));
  }

  status(id: string): TaskStatusView {
    const e = this.get(id);
    const summary = this.summaryOf(e);
    return { ...this.view(e), config: e.record.config, counters: summary ? countersOf(summary) : null, summary };
  }

  /** The task holding the phase-1 slot, if any. */
  active(): TaskView | null {
    const e = this.activeEntry();
    return e ? this.view(e) : null;
  }

  /** Tasks with figures to export (running, or finished during this process). */
  snapshots(): TaskSnapshot[] {
    const out: TaskSnapshot[] = [];
    for (const e of this.entries.values()) {
      const summary = this.summaryOf(e);
      if (summary || e.runner) out.push({ id: e.id, state: e.record.state, restartCount: e.record.restart_count, summary });
    }
    return out;
  }

  counts(): Record<TaskState, number> {
    const c = { created: 0, starting: 0, running: 0, stopping: 0, stopped: 0, completed: 0, failed: 0 } satisfies Record<TaskState, number>;
    for (const e of this.entries.values()) c[e.record.state]++;
    return c;
  }

  updateSettings(s: TaskManagerSettings): void {
    const gcChanged = s.gc_interval !== this.settings.gc_interval || s.max_task_history !== this.settings.max_task_history;
    this.settings = { ...s };
    if (gcChanged && this.gcTimer) this.startGc();
  }

  // ------------------------------------------------------------ restore (ADR-030)

  /**
   * Loads the records left by the previous process: interrupted tasks are
   * started again (restart_count + 1), the rest is history. A task that
   * cannot come back is marked failed; nothing here stops the others.
   */
  restore(): Promise<RestoreReport> {
    return this.exclusive(() => this.doRestore());
  }

  private async doRestore(): Promise<RestoreReport> {
    const report: RestoreReport = { resumed: [], failed: [], history: 0 };
    const toResume: Entry[] = [];
    for (const f of await this.o.store.loadAll()) {
      if (!f.ok) {
        await this.recordUnreadable(f.id, f.file, f.error);
        report.failed.push(f.id);
        continue;
      }
      const entry: Entry = { id: f.id, record: f.record, task: null, runner: null, stopIntent: null, lastSummary: null };
      this.entries.set(f.id, entry);
      const parsed = taskSchema.safeParse(f.record.config);
      if (parsed.success && parsed.data.id === f.id) entry.task = parsed.data;
      const state = f.record.state;
      if (isTerminal(state)) {
        report.history++;
        continue;
      }
      if (!entry.task) {
        const why = invalidReason(f.record.config, f.id);
        await this.fail(entry, `cannot resume: the stored task is invalid: ${why}`);
        report.failed.push(f.id);
        continue;
      }
      if (state === 'stopping') {
        // Only a delete writes `stopping` (a shutdown keeps `running`): the operator ended this task, and a crash in the middle does not undo that.
        entry.record.state = 'stopped';
        entry.record.stopped_at ??= nowIso();
        await this.persist(entry);
        this.o.log('info', 'task was being stopped when the daemon went down: kept stopped', { task: entry.id });
        report.history++;
        continue;
      }
      if (state === 'created') {
        // The previous process died before starting it: nobody saw it run, so nobody expects it back.
        await this.fail(entry, 'the daemon stopped before this task was started');
        report.failed.push(f.id);
        continue;
      }
      toResume.push(entry);
    }

    if (!this.settings.auto_restart) {
      for (const entry of toResume) {
        entry.record.state = 'stopped';
        entry.record.stopped_at = nowIso();
        entry.record.failure_reason = 'not resumed: task_persistence.auto_restart is false';
        await this.persist(entry);
        this.o.log('warn', 'task not resumed (auto_restart is false)', { task: entry.id });
        report.history++;
      }
      return report;
    }
    // Phase 1 holds one active task; should several files claim it, the most recent start wins.
    toResume.sort((a, b) => (b.record.started_at ?? b.record.created_at).localeCompare(a.record.started_at ?? a.record.created_at));
    for (const [i, entry] of toResume.entries()) {
      if (i > 0) {
        await this.fail(entry, `not resumed: task "${toResume[0]!.id}" was resumed and phase 1 runs one task at a time`);
        report.failed.push(entry.id);
        continue;
      }
      entry.record.restart_count++;
      entry.record.state = 'starting';
      entry.record.stopped_at = null;
      entry.record.failure_reason = '';
      await this.persist(entry);
      try {
        await this.launch(entry, false);
        this.o.log('info', 'task resumed', { task: entry.id, restart_count: entry.record.restart_count });
        report.resumed.push(entry.id);
      } catch (e) {
        this.o.log('error', 'task could not be resumed', { task: entry.id, error: (e as Error).message });
        report.failed.push(entry.id);
      }
    }
    return report;
  }

  /** A record that cannot be read: set the file aside and keep a failed record under its id. */
  private async recordUnreadable(id: string, file: string, error: string): Promise<void> {
    let aside: string;
    try {
      aside = await this.o.store.quarantine(file);
    } catch (e) {
      this.o.log('error', 'unreadable task file could not be moved aside', { file, error: (e as Error).message });
      return;
    }
    const reason = `unreadable task file (${error}); the original was kept as ${aside}`;
    this.o.log('error', 'task file is unreadable: task marked failed', { task: id, file, moved_to: aside, error });
    if (!taskSchema.shape.id.safeParse(id).success) return; // the name itself is not a task id: nothing to record under it
    const now = nowIso();
    const entry: Entry = {
      id,
      record: { version: 'v1', config: null, state: 'failed', created_at: now, started_at: null, stopped_at: now, failure_reason: reason, restart_count: 0 },
      task: null,
      runner: null,
      stopIntent: null,
      lastSummary: null,
    };
    this.entries.set(id, entry);
    await this.persist(entry);
  }

  // ------------------------------------------------------------ shutdown

  /**
   * Stops the active task for a daemon shutdown. Its record keeps saying
   * `running`, on purpose: an upgrade or a reboot must not lose the task, so
   * the next start resumes it. (ADR-030's table writes `stopped` here; only
   * task_delete stops a task for good in this implementation.)
   */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.stopGc();
    await this.exclusive(async () => {
      for (const e of this.entries.values()) {
        if (!e.runner) continue;
        e.stopIntent = 'shutdown';
        e.record.state = 'stopping'; // in memory only: the file must still say running
        const runner = e.runner;
        try {
          e.lastSummary = await this.withTimeout(runner.stop(), `task ${e.id} did not stop`);
        } catch (err) {
          this.o.log('error', 'task did not stop cleanly', { task: e.id, error: (err as Error).message });
        }
        e.runner = null;
        // Its final figures: once the process is gone, the log is the only place left to read them.
        const c = e.lastSummary ? countersOf(e.lastSummary) : null;
        this.o.log('info', 'task stopped for shutdown; it resumes at the next start', {
          task: e.id,
          ...(c ? { packets_captured: c.packets_captured, reported: c.reported, dropped: c.pipeline_channel_drops + c.sender_buffer_drops + c.reporter_timeout_drops + c.reporter_error_drops + c.reporter_buffer_drops } : {}),
        });
      }
    });
    await this.o.store.flush();
  }

  // ------------------------------------------------------------ GC (ADR-031)

  startGc(): void {
    this.stopGc();
    if (this.settings.gc_interval <= 0) return;
    this.gcTimer = setInterval(() => void this.gc().catch((e) => this.o.log('error', 'task history GC failed', { error: (e as Error).message })), this.settings.gc_interval * 1000);
    this.gcTimer.unref();
  }

  stopGc(): void {
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.gcTimer = null;
  }

  /**
   * Removes finished tasks older than task_ttl, then the oldest beyond
   * max_task_history; refreshes the active task's file so that tmpfiles.d
   * never ages it out.
   */
  async gc(now = Date.now()): Promise<string[]> {
    for (const e of this.entries.values()) if (isActive(e.record.state)) await this.o.store.touch(e.id);
    const { max_task_history: max, task_ttl: ttl } = this.settings;
    if (max === 0) return [];
    const endOf = (e: Entry) => Date.parse(e.record.stopped_at ?? e.record.created_at) || 0;
    const history = [...this.entries.values()].filter((e) => isTerminal(e.record.state) && !e.runner).sort((a, b) => endOf(a) - endOf(b));
    const doomed = new Set<Entry>();
    for (const e of history) if (now - endOf(e) > ttl * 1000) doomed.add(e);
    const kept = history.filter((e) => !doomed.has(e));
    for (let i = 0; i < kept.length - max; i++) doomed.add(kept[i]!);
    const removed: string[] = [];
    for (const e of doomed) {
      this.entries.delete(e.id);
      await this.o.store.remove(e.id);
      removed.push(e.id);
    }
    if (removed.length) this.o.log('info', 'task history pruned', { removed });
    return removed;
  }

  // ------------------------------------------------------------ internals

  private async doCreate(task: TaskConfig): Promise<TaskView> {
    if (this.closing) throw new TaskError('the daemon is shutting down', 'SHUTTING_DOWN');
    const existing = this.entries.get(task.id);
    if (existing && isActive(existing.record.state)) throw new TaskError(`task "${task.id}" already exists and is ${existing.record.state}`, 'TASK_EXISTS');
    const active = this.activeEntry();
    if (active) {
      throw new TaskError(
        `task "${active.id}" is ${active.record.state}; phase 1 runs one task at a time: stop it first (otus task stop --id ${active.id})`,
        'TASK_LIMIT',
      );
    }
    const entry: Entry = {
      id: task.id,
      record: { version: 'v1', config: task, state: 'starting', created_at: nowIso(), started_at: null, stopped_at: null, failure_reason: '', restart_count: 0 },
      task,
      runner: null,
      stopIntent: null,
      lastSummary: null,
    };
    // A new task under the id of a finished one replaces that history record.
    this.entries.set(task.id, entry);
    await this.persist(entry);
    await this.launch(entry, true);
    this.o.log('info', 'task started', { task: task.id });
    return this.view(entry);
  }

  /** Starts the entry's runner; on failure the entry is marked failed (or forgotten when the task itself is invalid). */
  private async launch(entry: Entry, forgetIfInvalid: boolean): Promise<void> {
    entry.stopIntent = null;
    entry.lastSummary = null;
    let runner: TaskRunnerLike;
    try {
      runner = await this.o.runnerFactory(entry.task!, this.taskLog(entry.id));
      entry.runner = runner;
      await this.withTimeout(runner.start(), `task ${entry.id} did not start`, this.o.startTimeoutMs ?? 30_000);
    } catch (e) {
      entry.runner = null;
      const msg = (e as Error).message;
      if (forgetIfInvalid && isInvalidTask(e)) {
        this.entries.delete(entry.id);
        await this.o.store.remove(entry.id).catch(() => {});
        throw e;
      }
      await this.fail(entry, `failed to start: ${msg}`);
      throw new TaskError(`task "${entry.id}" failed to start: ${msg}`, 'TASK_START_FAILED');
    }
    entry.record.state = 'running';
    entry.record.started_at = nowIso();
    await this.persist(entry);
    runner.wait().then(
      (s) => this.ended(entry, runner, s, null),
      (err: unknown) => this.ended(entry, runner, null, err as Error),
    );
  }

  /** The runner finished without being asked to: a file capture reached its end, or something broke. */
  private ended(entry: Entry, runner: TaskRunnerLike, summary: TaskSummary | null, err: Error | null): void {
    if (entry.runner !== runner || entry.stopIntent !== null) return;
    entry.runner = null;
    entry.lastSummary = summary ?? this.safeSummary(runner);
    const reason = err?.message ?? summary?.error ?? null;
    entry.record.state = reason ? 'failed' : 'completed';
    entry.record.failure_reason = reason ?? '';
    entry.record.stopped_at = nowIso();
    void this.persist(entry);
    if (reason) this.o.log('error', 'task failed', { task: entry.id, error: reason });
    else this.o.log('info', 'task completed: its capture ended', { task: entry.id });
  }

  private async doDelete(id: string): Promise<TaskView & { removed: boolean }> {
    const entry = this.get(id);
    if (isTerminal(entry.record.state) && !entry.runner) {
      this.entries.delete(id);
      await this.o.store.remove(id);
      this.o.log('info', 'task removed from the history', { task: id });
      return { ...this.view(entry), removed: true };
    }
    const runner = entry.runner;
    entry.stopIntent = 'delete';
    entry.record.state = 'stopping';
    // On disk too: should the daemon die before the stop completes, the next start must not bring the task back.
    await this.persist(entry);
    if (runner) {
      try {
        const s = await this.withTimeout(runner.stop(), `task ${id} did not stop`);
        entry.lastSummary = s;
        entry.record.failure_reason = s.error ?? '';
      } catch (e) {
        entry.lastSummary = this.safeSummary(runner);
        entry.record.failure_reason = `stopped with an error: ${(e as Error).message}`;
      }
    }
    entry.runner = null;
    entry.record.state = 'stopped';
    entry.record.stopped_at = nowIso();
    await this.persist(entry);
    this.o.log('info', 'task stopped', { task: id });
    return { ...this.view(entry), removed: false };
  }

  private async fail(entry: Entry, reason: string): Promise<void> {
    entry.record.state = 'failed';
    entry.record.failure_reason = reason;
    entry.record.stopped_at = nowIso();
    await this.persist(entry);
    this.o.log('error', 'task failed', { task: entry.id, error: reason });
  }

  /** A record that cannot be written costs the task its survival across restarts, not its run. */
  private async persist(entry: Entry): Promise<void> {
    try {
      await this.o.store.save(entry.id, entry.record);
    } catch (e) {
      this.o.log('error', 'cannot write the task record', { task: entry.id, error: (e as Error).message });
    }
  }

  private get(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new TaskError(`no task "${id}"`, 'TASK_NOT_FOUND');
    return e;
  }

  private activeEntry(): Entry | undefined {
    for (const e of this.entries.values()) if (isActive(e.record.state)) return e;
    return undefined;
  }

  private summaryOf(e: Entry): TaskSummary | null {
    return (e.runner ? this.safeSummary(e.runner) : null) ?? e.lastSummary;
  }

  private safeSummary(r: TaskRunnerLike): TaskSummary | null {
    try {
      return r.summary();
    } catch {
      return null; // not started far enough to have figures
    }
  }

  private view(e: Entry): TaskView {
    const r = e.record;
    return {
      id: e.id,
      state: r.state,
      created_at: r.created_at,
      started_at: r.started_at,
      stopped_at: r.stopped_at,
      restart_count: r.restart_count,
      failure_reason: r.failure_reason,
      source: sourceOf(r.config),
    };
  }

  private taskLog(id: string): Log {
    return (level, msg, fields) => this.o.log(level, msg, { task: id, ...fields });
  }

  private withTimeout<T>(p: Promise<T>, what: string, ms = this.o.stopTimeoutMs ?? 30_000): Promise<T> {
    let timer: NodeJS.Timeout;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(job, job);
    this.lockTail = run.catch(() => {});
    return run;
  }
}
