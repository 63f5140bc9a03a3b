// Processor "label" (ADR-011/012): adds deployment metadata known only where
// the agent runs (node, dc, env...) to every packet. Labels a parser set win
// unless `overwrite` is true, so that metadata cannot silently replace what
// the protocol said.
import { z } from 'zod';
import { isValidLabelKey, type OutputPacket } from '../../../core/output.ts';
import { labelWriter, type LabelWriter } from '../../../core/label-access.ts';
import type { PluginConfig, PluginContext, Processor } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';

// Keys and values are checked together so that one run names every bad
// entry. YAML reads `rack: 12` or `canary: true` as a number or a boolean;
// label values are strings (ADR-012), so scalars are taken as their text.
const labelsSchema = z
  .record(z.string(), z.unknown())
  .superRefine((labels, ctx) => {
    for (const [key, value] of Object.entries(labels)) {
      if (!isValidLabelKey(key)) {
        ctx.addIssue({
          code: 'custom',
          message: `invalid label key "${key}": keys are lowercase letters, digits, dots and dashes, starting with a letter or digit`,
          path: [key],
        });
      }
      const t = typeof value;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') {
        ctx.addIssue({ code: 'custom', message: `must be a string, number or boolean, not ${value === null ? 'null' : t}`, path: [key] });
      }
    }
  })
  .transform((labels) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) out[k] = String(v);
    return out;
  });

export const labelConfigSchema = z.strictObject({
  labels: labelsSchema.default({}),
  /** Add `node` = the agent's name (PluginContext.agent). An explicit `labels.node` takes precedence. */
  node: z.boolean().default(true),
  /** Replace labels that are already set (by the parser or an earlier processor). */
  overwrite: z.boolean().default(false),
});
export type LabelConfig = z.output<typeof labelConfigSchema>;
export type LabelConfigInput = z.input<typeof labelConfigSchema>;

export class LabelProcessor implements Processor {
  private setLabels: LabelWriter = () => {};

  init(config: PluginConfig, ctx: PluginContext): void {
    const cfg = parsePluginConfig(labelConfigSchema, config, 'processor label');
    const all = new Map<string, string>();
    // An empty agent name carries no information, so no `node` label for it.
    if (cfg.node && ctx.agent !== '') all.set('node', ctx.agent);
    for (const [k, v] of Object.entries(cfg.labels)) all.set(k, v);
    this.setLabels = labelWriter([...all.keys()], [...all.values()], cfg.overwrite);
  }

  process(pkt: OutputPacket): boolean {
    this.setLabels(pkt.labels);
    return true;
  }
}

registerPlugin('processor', 'label', () => new LabelProcessor());
