// Validates a plugin's config map with its schema; errors name the plugin and field.
import type { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';

/**
 * `path` is where the map sits in the task file: `config` of a plugin
 * reference, or `capture.config` for a capturer (whose map also carries the
 * task's capture.file, interface and bpf_filter).
 */
export function parsePluginConfig<S extends z.ZodType>(schema: S, config: unknown, who: string, path = 'config'): z.output<S> {
  const r = schema.safeParse(config ?? {});
  if (!r.success) throw configErrorFrom(who, path, r.error);
  return r.data;
}
