// What a reload changed, and which of those changes only a restart applies.
import type { GlobalConfig } from '../config/global-schema.ts';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Dotted paths of the settings that differ; maps and lists compare whole. */
export function diffConfig(a: GlobalConfig, b: GlobalConfig): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string, key: string) => {
    if (isPlainObject(x) && isPlainObject(y) && key !== 'tags' && key !== 'labels') {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], path ? `${path}.${k}` : k, k);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      out.push(path);
    }
  };
  walk(a, b, '', '');
  return out;
}

/** Bound once at start: the socket and pid file paths, the metrics listener, where tasks are stored. */
const RESTART_ONLY = ['otus.control.', 'otus.metrics.', 'otus.data_dir', 'otus.task_persistence.enabled', 'otus.command_channel.'];

export function needsRestart(path: string): boolean {
  return RESTART_ONLY.some((p) => path === p || path.startsWith(p));
}
