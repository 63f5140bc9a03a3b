// `otus validate --config FILE | --task FILE`: every bad field named, exit 0 when valid.
import { loadGlobalConfig } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { loadTaskFile } from '../task/task-schema.ts';
import { resolveFactories } from '../task/build-plugins.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import '../plugins/index.ts';

export function validateCommand(o: { config?: string; task?: string }): number {
  if (!o.config && !o.task) throw new OtusError('validate: give --config FILE and/or --task FILE');
  if (o.config) {
    loadGlobalConfig(o.config);
    process.stdout.write(`${o.config}: valid global configuration\n`);
  }
  if (o.task) {
    const t = loadTaskFile(o.task);
    lookupPlugin('capturer', t.capture.name);
    resolveFactories('parser', t.parsers);
    resolveFactories('processor', t.processors);
    resolveFactories('reporter', t.reporters);
    process.stdout.write(`${o.task}: valid task "${t.id}"\n`);
  }
  return 0;
}
