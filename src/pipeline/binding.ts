// Binding mode (DESIGN section 2): every pipeline worker owns one capturer,
// and the kernel spreads flows over them through one PACKET_FANOUT group.
// This module decides which mode a task runs in and builds each worker's
// capturer config; the workers open their sockets (worker-main.ts).
import { OtusError } from '../core/errors.ts';
import { captureConfigOf } from '../task/capture-config.ts';
import type { TaskConfig } from '../task/task-schema.ts';

/** Capturers with native fan-out, i.e. those that can run one instance per worker. */
const FANOUT_CAPTURERS = new Set(['afpacket']);

export type DispatchMode = 'dispatch' | 'binding';

/** The task's mode: as configured, else binding for capturers with native fan-out. */
export function dispatchModeOf(task: TaskConfig): DispatchMode {
  const c = task.capture;
  const mode = c.dispatch_mode ?? (FANOUT_CAPTURERS.has(c.name) ? 'binding' : 'dispatch');
  if (mode === 'binding' && !FANOUT_CAPTURERS.has(c.name)) {
    throw new OtusError(
      `task ${task.id}: capture.dispatch_mode "binding" needs a capturer with native fan-out ` +
        `(${[...FANOUT_CAPTURERS].join(', ')}); "${c.name}" has none: use dispatch_mode "dispatch"`,
      'CONFIG_ERROR',
    );
  }
  return mode;
}

/**
 * The fan-out group id of a task: a 16-bit FNV-1a hash of the task id and
 * the process id. Group ids are shared by every process of a network
 * namespace, and a socket that joins an existing group with the same mode
 * and interface silently takes a share of its traffic; the process id keeps
 * two `otus run` of the same task, or two daemons, from splitting each
 * other's traffic (a real hazard: `otus run` always names its task "run").
 * `capture.config.fanout.group_id` overrides the derived id.
 */
export function fanoutGroupOf(taskId: string, pid: number = process.pid): number {
  const key = `${taskId}/${pid}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return ((h >>> 16) ^ h) & 0xffff;
}

/**
 * The config of every worker's capturer: the task's capture config, and with
 * more than one worker a fan-out group (mode hash unless configured: it keeps
 * both directions of a flow on one worker; defrag on unless configured).
 */
export function bindingCaptureConfig(task: TaskConfig, workers: number): Record<string, unknown> {
  const cfg = captureConfigOf(task);
  const given = cfg['fanout'];
  if (workers < 2 && given === undefined) return cfg;
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new OtusError(`task ${task.id}: capture.config.fanout must be a map (group_id, mode, defrag)`, 'CONFIG_ERROR');
  }
  const f = (given ?? {}) as Record<string, unknown>;
  return {
    ...cfg,
    fanout: { ...f, group_id: f['group_id'] ?? fanoutGroupOf(task.id), mode: f['mode'] ?? 'hash', defrag: f['defrag'] ?? true },
  };
}
