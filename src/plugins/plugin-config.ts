// Validates a plugin's config map with its schema; errors name the plugin and field.
import type { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';

export function parsePluginConfig<S extends z.ZodType>(schema: S, config: unknown, who: string): z.output<S> {
  const r = schema.safeParse(config ?? {});
  if (!r.success) throw configErrorFrom(who, 'config', r.error);
  return r.data;
}
