// The config a capturer plugin receives: its own `config` map plus the
// task-level capture fields (file, interface, bpf_filter) it may need.
import type { TaskConfig } from './task-schema.ts';

export function captureConfigOf(task: TaskConfig): Record<string, unknown> {
  const c = task.capture;
  return {
    ...c.config,
    ...(c.file !== undefined ? { file: c.file } : {}),
    ...(c.interface !== undefined ? { interface: c.interface } : {}),
    ...(c.bpf_filter !== undefined ? { bpf_filter: c.bpf_filter } : {}),
  };
}
