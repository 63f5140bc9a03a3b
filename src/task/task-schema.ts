// A task (DESIGN section 5): what to capture, how to parse, where to send.
// Arrives as YAML/JSON from the CLI or a Kafka command; unknown keys, wrong
// types and impossible values are refused with the path of the field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { configErrorFrom } from '../config/zod-errors.ts';

const pluginRef = z.strictObject({
  name: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const taskSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-" (it names a file)'),
  /** Pipeline workers; 0 = all available cores (bounded by resources.max_workers). */
  workers: z.number().int().min(0).max(256).default(0),
  capture: z
    .strictObject({
      name: z.string().min(1),
      /** dispatch: one reader hashes flows to workers; binding: one capturer per worker (kernel fan-out). */
      dispatch_mode: z.enum(['dispatch', 'binding']).optional(),
      interface: z.string().min(1).optional(),
      file: z.string().min(1).optional(),
      bpf_filter: z.string().optional(),
      config: z.record(z.string(), z.unknown()).default({}),
    })
    .refine((c) => !(c.interface && c.file), { message: 'give either interface or file, not both' }),
  parsers: z.array(pluginRef).default([]),
  processors: z.array(pluginRef).default([]),
  reporters: z.array(pluginRef).min(1, 'at least one reporter is needed'),
  unmatched_policy: z.enum(['forward', 'drop']).default('drop'),
});

export type TaskConfig = z.output<typeof taskSchema>;
export type TaskInput = z.input<typeof taskSchema>;

/** Validates a task object; `source` names where it came from for the error. */
export function parseTask(input: unknown, source: string): TaskConfig {
  const r = taskSchema.safeParse(input);
  if (!r.success) throw configErrorFrom(source, '', r.error);
  return r.data;
}

export function loadTaskFile(file: string): TaskConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read task: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true }); // YAML is a superset of JSON
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML/JSON: ${(e as Error).message}`);
  }
  return parseTask(doc, file);
}
