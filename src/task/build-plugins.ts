// Resolves and constructs a task's plugins in the phases of DESIGN section 4:
// every factory is resolved before anything is constructed, so an unknown
// name fails the task before any side effect.
import { ConfigError } from '../core/errors.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import type { PluginContext, PluginKind, PluginTypes } from '../plugin/interfaces.ts';

export interface PluginRef {
  name: string;
  config: Record<string, unknown>;
}

/** Phase "resolve": throws OtusError listing the known names for an unknown one. */
export function resolveFactories<K extends PluginKind>(kind: K, refs: readonly PluginRef[]): (() => PluginTypes[K])[] {
  return refs.map((r) => lookupPlugin(kind, r.name));
}

/** Phases "construct" and "init". */
export async function buildPlugins<K extends PluginKind>(
  kind: K,
  refs: readonly PluginRef[],
  ctx: PluginContext,
): Promise<PluginTypes[K][]> {
  const factories = resolveFactories(kind, refs);
  const instances = factories.map((f) => f());
  for (let i = 0; i < instances.length; i++) {
    const inst = instances[i]! as { init(c: Record<string, unknown>, x: PluginContext): void | Promise<void> };
    try {
      await inst.init(refs[i]!.config, ctx);
    } catch (e) {
      throw pluginInitError(e as Error, kind, i, refs[i]!.name);
    }
  }
  return instances;
}

/**
 * Names the task field of a plugin whose init failed. A config error
 * ("parser sip: config.ports.0: ...", from parsePluginConfig) becomes
 * "parsers.0.config.ports.0: ... (parser sip)", the path in the task file.
 */
function pluginInitError(err: Error, kind: PluginKind, index: number, name: string): Error {
  const field = `${kind}s.${index}`;
  const who = `${kind} ${name}: `;
  if (err instanceof ConfigError && err.message.startsWith(who)) {
    const parts = err.message
      .slice(who.length)
      .split('; ')
      .map((p) => (p.startsWith('config') ? `${field}.${p}` : p));
    return new ConfigError(`${parts.join('; ')} (${kind} "${name}")`, `${field}.${err.path}`);
  }
  err.message = `${field} (${kind} "${name}"): ${err.message}`;
  return err;
}
