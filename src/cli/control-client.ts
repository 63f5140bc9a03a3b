// What every control subcommand shares: finding the socket (--socket, else
// the global config's otus.control.socket), calling one method, and turning
// failures into one line and an exit status instead of a stack trace.
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH, loadGlobalConfig } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { callDaemon, DaemonUnreachableError, RpcCallError } from '../control/uds-client.ts';

export interface ControlOptions {
  socket?: string;
  config?: string;
  json?: boolean;
}

export function socketPathOf(o: ControlOptions): string {
  if (o.socket) return o.socket;
  const file = o.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  return loadGlobalConfig(file).config.otus.control.socket;
}

/** Calls `method`, prints the result (raw JSON with --json) and returns the exit status. */
export async function runControl(o: ControlOptions, method: string, params: unknown, render: (result: never) => string): Promise<number> {
  let result: unknown;
  try {
    result = await callDaemon(socketPathOf(o), method, params);
  } catch (e) {
    if (e instanceof DaemonUnreachableError) {
      process.stderr.write(`otus: ${e.message}\n`);
      return 1;
    }
    if (e instanceof RpcCallError) {
      if (o.json) process.stdout.write(JSON.stringify({ error: e.rpc }, null, 2) + '\n');
      process.stderr.write(`otus: ${method}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof OtusError) {
      process.stderr.write(`otus: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  process.stdout.write(o.json ? JSON.stringify(result, null, 2) + '\n' : render(result as never));
  return 0;
}
