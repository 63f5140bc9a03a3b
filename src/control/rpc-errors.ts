// Maps what a method throws to a JSON-RPC error object, so that a caller can
// tell "you sent a bad task" (-32602, naming the field) from "the slot is
// taken" (-32003) without parsing messages.
import { ConfigError, OtusError } from '../core/errors.ts';
import { TaskError, type TaskErrorCode } from '../task/task-errors.ts';
import * as rpc from './jsonrpc.ts';

const TASK_CODES: Record<TaskErrorCode, number> = {
  TASK_NOT_FOUND: rpc.TASK_NOT_FOUND,
  TASK_EXISTS: rpc.TASK_EXISTS,
  TASK_LIMIT: rpc.TASK_LIMIT,
  TASK_START_FAILED: rpc.TASK_START_FAILED,
  SHUTTING_DOWN: rpc.SHUTTING_DOWN,
};

export function toRpcError(e: unknown): rpc.RpcErrorObject {
  if (e instanceof rpc.RpcError) return e.toObject();
  if (e instanceof ConfigError) return { code: rpc.INVALID_PARAMS, message: e.message, data: { field: e.path } };
  if (e instanceof TaskError) return { code: TASK_CODES[e.taskCode], message: e.message, data: { reason: e.taskCode } };
  if (e instanceof OtusError && e.code === 'UNKNOWN_PLUGIN') return { code: rpc.INVALID_PARAMS, message: e.message, data: { reason: e.code } };
  if (e instanceof OtusError) return { code: rpc.APP_ERROR, message: e.message, data: { reason: e.code } };
  return { code: rpc.INTERNAL_ERROR, message: `internal error: ${(e as Error)?.message ?? String(e)}` };
}
