// Turns a zod validation failure into one readable ConfigError naming the
// path of every offending field.
import type { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].filter(Boolean).join('.') || '(root)';
}

/** `source` names the file or message; `prefix` is prepended to every field path. */
export function configErrorFrom(source: string, prefix: string, error: z.ZodError): ConfigError {
  const parts = error.issues.map((i) => `${issuePath(prefix, i.path)}: ${i.message}`);
  const first = error.issues[0];
  return new ConfigError(`${source}: ${parts.join('; ')}`, first ? issuePath(prefix, first.path) : prefix);
}
