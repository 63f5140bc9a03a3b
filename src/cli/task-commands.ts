// `otus task create|stop|list|status`: thin clients of the task methods.
import { isAbsolute, resolve } from 'node:path';
import { loadTaskFile, type TaskConfig } from '../task/task-schema.ts';
import { runControl, type ControlOptions } from './control-client.ts';
import { renderTaskCreated, renderTaskDeleted, renderTaskList, renderTaskStatus } from './control-format.ts';

/**
 * The daemon does not share our working directory (systemd starts it in /),
 * so paths the operator wrote relative to where they stand are made absolute
 * here: the capture file, and the file reporter's output.
 */
export function absolutePaths(t: TaskConfig, cwd = process.cwd()): TaskConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  if (t.capture.file) t.capture.file = abs(t.capture.file);
  for (const r of t.reporters) {
    if (r.name === 'file' && typeof r.config['path'] === 'string') r.config['path'] = abs(r.config['path']);
  }
  return t;
}

export function taskCreate(o: ControlOptions & { file: string }): Promise<number> {
  // Checked here first, so that a bad field is reported with the file's name before anything is sent.
  const task = absolutePaths(loadTaskFile(o.file));
  return runControl(o, 'task_create', task, renderTaskCreated);
}

export function taskStop(o: ControlOptions & { id: string }): Promise<number> {
  return runControl(o, 'task_delete', { id: o.id }, renderTaskDeleted);
}

export function taskList(o: ControlOptions): Promise<number> {
  return runControl(o, 'task_list', undefined, renderTaskList);
}

export function taskStatus(o: ControlOptions & { id: string }): Promise<number> {
  return runControl(o, 'task_status', { id: o.id }, renderTaskStatus);
}
