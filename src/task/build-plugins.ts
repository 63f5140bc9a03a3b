// Resolves and constructs a task's plugins in the phases of DESIGN section 4:
// every factory is resolved before anything is constructed, so an unknown
// name fails the task before any side effect.
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
      const err = e as Error;
      err.message = `${kind} "${refs[i]!.name}": ${err.message}`;
      throw err;
    }
  }
  return instances;
}
