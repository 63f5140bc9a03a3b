// The JSON-RPC methods of the control socket (DESIGN section 7), each a thin
// adapter from params to the daemon: checking params, nothing else.
import { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';
import { ConfigError } from '../core/errors.ts';
import type { TaskManager } from '../task/task-manager.ts';
import { CONFIG_INVALID, INVALID_PARAMS, RpcError } from './jsonrpc.ts';
import type { Method } from './uds-server.ts';
import { policyMethods, type PolicyControl } from './policy-methods.ts';

/** What the methods need of the daemon. */
export interface DaemonControl extends PolicyControl {
  tasks(): TaskManager;
  status(): unknown;
  stats(): unknown;
  reload(): Promise<unknown>;
  requestShutdown(reason: string): void;
}

const idParams = z.strictObject({ id: z.string().min(1) });

function idOf(params: unknown, method: string): string {
  const r = idParams.safeParse(params ?? {});
  if (!r.success) throw configErrorFrom(`${method} params`, '', r.error);
  return r.data.id;
}

export function controlMethods(d: DaemonControl): Record<string, Method> {
  return {
    task_create: (params) => {
      if (typeof params !== 'object' || params === null || Array.isArray(params)) {
        throw new RpcError(INVALID_PARAMS, 'task_create: params must be the task object', { field: '(root)' });
      }
      return d.tasks().create(params);
    },
    task_delete: (params) => d.tasks().delete(idOf(params, 'task_delete')),
    task_list: () => ({ tasks: d.tasks().list() }),
    task_status: (params) => d.tasks().status(idOf(params, 'task_status')),
    daemon_status: () => d.status(),
    daemon_stats: () => d.stats(),
    config_reload: async () => {
      try {
        return await d.reload();
      } catch (e) {
        // The caller's params were fine: it is the file on disk that is wrong.
        if (e instanceof ConfigError) throw new RpcError(CONFIG_INVALID, `configuration not reloaded: ${e.message}`, { field: e.path });
        throw e;
      }
    },
    daemon_shutdown: () => {
      // Answer first: the shutdown closes this very socket.
      setImmediate(() => d.requestShutdown('daemon_shutdown request'));
      return { stopping: true };
    },
    ...policyMethods(d),
  };
}
