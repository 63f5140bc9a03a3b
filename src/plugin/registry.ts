// Per-kind plugin registry (ADR-022): each plugin module registers a
// zero-argument factory under a name when it loads. Registering a name twice
// is a programming error; looking up an unknown name lists the known ones.
import { OtusError } from '../core/errors.ts';
import type { PluginKind, PluginTypes } from './interfaces.ts';

type Factory<K extends PluginKind> = () => PluginTypes[K];

const tables: { [K in PluginKind]: Map<string, Factory<K>> } = {
  capturer: new Map(),
  parser: new Map(),
  processor: new Map(),
  reporter: new Map(),
};

export function registerPlugin<K extends PluginKind>(kind: K, name: string, factory: Factory<K>): void {
  const table = tables[kind] as Map<string, Factory<K>>;
  if (table.has(name)) {
    throw new Error(`plugin registry: ${kind} "${name}" is registered twice`);
  }
  table.set(name, factory);
}

export function lookupPlugin<K extends PluginKind>(kind: K, name: string): Factory<K> {
  const table = tables[kind] as Map<string, Factory<K>>;
  const f = table.get(name);
  if (!f) {
    const known = [...table.keys()].sort().join(', ') || '(none)';
    throw new OtusError(`unknown ${kind} "${name}"; known ${kind}s: ${known}`, 'UNKNOWN_PLUGIN');
  }
  return f;
}

export function knownPlugins(kind: PluginKind): string[] {
  return [...tables[kind].keys()].sort();
}
