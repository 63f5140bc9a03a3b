// `otus validate --config FILE | --task FILE`: every bad field named, exit 0 when valid.
import { loadGlobalConfig } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { loadTaskFile } from '../task/task-schema.ts';
import { buildPlugins, resolveFactories } from '../task/build-plugins.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import { captureConfigOf } from '../task/capture-config.ts';
import '../plugins/index.ts';

export async function validateCommand(o: { config?: string; task?: string }): Promise<number> {
  if (!o.config && !o.task) throw new OtusError('validate: give --config FILE and/or --task FILE');
  const { config } = loadGlobalConfig(o.config ?? null);
  if (o.config) process.stdout.write(`${o.config}: valid global configuration\n`);
  if (o.task) {
    const t = loadTaskFile(o.task);
    const capturer = lookupPlugin('capturer', t.capture.name)();
    resolveFactories('parser', t.parsers);
    resolveFactories('processor', t.processors);
    resolveFactories('reporter', t.reporters);
    // Each plugin checks its own config at init; init opens nothing (start
    // does), so building them here finds a bad plugin field before a run.
    const ctx = { taskId: t.id, workerIndex: -1, agent: config.otus.node.hostname, log: () => {}, global: config };
    try {
      capturer.checkConfig(captureConfigOf(t));
      await buildPlugins('parser', t.parsers, ctx);
      await buildPlugins('processor', t.processors, ctx);
      await buildPlugins('reporter', t.reporters, ctx);
    } catch (e) {
      if (e instanceof OtusError) e.message = `${o.task}: ${e.message}`;
      throw e;
    }
    process.stdout.write(`${o.task}: valid task "${t.id}"\n`);
  }
  return 0;
}
