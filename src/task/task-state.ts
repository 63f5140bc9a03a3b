// The life of a task as the daemon records it (ADR-030). `completed` is ours:
// a file capture that reached its end is neither stopped by anyone nor failed.

export const TASK_STATES = ['created', 'starting', 'running', 'stopping', 'stopped', 'completed', 'failed'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States that hold the single task slot of phase 1 and are resumed after a restart. */
export const ACTIVE_STATES: ReadonlySet<TaskState> = new Set(['starting', 'running', 'stopping']);

/** History: never started again, pruned by the GC. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['stopped', 'completed', 'failed']);

export function isActive(s: TaskState): boolean {
  return ACTIVE_STATES.has(s);
}

export function isTerminal(s: TaskState): boolean {
  return TERMINAL_STATES.has(s);
}
