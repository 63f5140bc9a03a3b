// What the task manager refuses, with a code the control channels map to
// their own error numbers (JSON-RPC, Kafka responses).
import { OtusError } from '../core/errors.ts';

export type TaskErrorCode = 'TASK_NOT_FOUND' | 'TASK_EXISTS' | 'TASK_LIMIT' | 'TASK_START_FAILED' | 'SHUTTING_DOWN';

export class TaskError extends OtusError {
  constructor(
    message: string,
    readonly taskCode: TaskErrorCode,
  ) {
    super(message, taskCode);
    this.name = 'TaskError';
  }
}
