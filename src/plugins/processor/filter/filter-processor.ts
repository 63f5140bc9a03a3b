// Processor "filter" (ADR-011): drops or passes packets by their labels and
// protocol; it never looks at the payload.
//
//   mode: drop   a packet that matches is dropped, every other one passes
//   mode: pass   only packets that match pass
//   match: any   a packet matches when one rule matches (default)
//   match: all   ... when every rule matches
//
// A rule matches when all the conditions it states hold:
//   protocol: P       the packet's protocol is P ("sip", "dns", "raw"...)
//   label + values    the label is present and its value is one of values
//   label + prefix    the label is present and its value starts with prefix
//   label + exists    the label is present (true) or absent (false)
//   label alone       the label is present
// e.g. dropping SIP keep-alives and registrations:
//   { mode: drop, rules: [{ label: sip.method, values: [OPTIONS, REGISTER] }] }
//
// Everything is compiled at init; process() compares strings and looks up a
// Set, and allocates nothing.
import { z } from 'zod';
import { isValidLabelKey, type OutputPacket } from '../../../core/output.ts';
import { labelReader, type LabelReader } from '../../../core/label-access.ts';
import type { PluginConfig, PluginContext, Processor } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';

const labelKey = z.string().refine(isValidLabelKey, {
  message: 'must be a valid label key: lowercase letters, digits, dots and dashes, starting with a letter or digit',
});

// Label values are strings, but YAML reads `values: [200, 404]` as numbers;
// a status code written without quotes still means "200".
const labelValue = z
  .union([z.string(), z.number(), z.boolean()], { error: 'must be a string (or a number or boolean, taken as text)' })
  .transform((v) => String(v));

const ruleSchema = z
  .strictObject({
    label: labelKey.optional(),
    values: z.array(labelValue).min(1, 'at least one value').optional(),
    prefix: z.string().min(1).optional(),
    exists: z.boolean().optional(),
    protocol: z.string().min(1).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.label === undefined) {
      if (r.protocol === undefined) ctx.addIssue({ code: 'custom', message: 'a rule needs a label or a protocol', path: ['label'] });
      for (const k of ['values', 'prefix', 'exists'] as const) {
        if (r[k] !== undefined) ctx.addIssue({ code: 'custom', message: `${k} needs a label`, path: [k] });
      }
      return;
    }
    if (r.values !== undefined && r.prefix !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give values or prefix, not both', path: ['prefix'] });
    }
    if (r.exists === false && (r.values !== undefined || r.prefix !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exists: false cannot be combined with values or prefix', path: ['exists'] });
    }
  });

export const filterConfigSchema = z.strictObject({
  mode: z.enum(['drop', 'pass']).default('drop'),
  rules: z.array(ruleSchema).min(1, 'at least one rule'),
  match: z.enum(['any', 'all']).default('any'),
});
export type FilterConfig = z.output<typeof filterConfigSchema>;
export type FilterConfigInput = z.input<typeof filterConfigSchema>;
export type FilterRule = FilterConfig['rules'][number];

const LABEL_PRESENT = 0;
const LABEL_ABSENT = 1;
const LABEL_IN = 2;
const LABEL_PREFIX = 3;
const NO_LABEL = 4;

class CompiledRule {
  readonly label: string;
  /** Reads `label` by name (label-access.ts: a keyed read costs several times more). */
  private readonly read: LabelReader;
  readonly test: number;
  readonly values: ReadonlySet<string>;
  readonly prefix: string;
  /** null: any protocol. */
  readonly protocol: string | null;

  constructor(r: FilterRule) {
    this.label = r.label ?? '';
    this.read = labelReader(this.label);
    this.protocol = r.protocol ?? null;
    this.values = new Set(r.values ?? []);
    this.prefix = r.prefix ?? '';
    if (r.label === undefined) this.test = NO_LABEL;
    else if (r.values !== undefined) this.test = LABEL_IN;
    else if (r.prefix !== undefined) this.test = LABEL_PREFIX;
    else if (r.exists === false) this.test = LABEL_ABSENT;
    else this.test = LABEL_PRESENT;
  }

  matches(pkt: OutputPacket): boolean {
    if (this.protocol !== null && pkt.protocol !== this.protocol) return false;
    const t = this.test;
    if (t === NO_LABEL) return true;
    // Labels is a plain object: keys such as "constructor" are valid label
    // keys and would find Object.prototype's members, which are not strings.
    const v = this.read(pkt.labels);
    const present = typeof v === 'string';
    if (t === LABEL_PRESENT) return present;
    if (t === LABEL_ABSENT) return !present;
    if (!present) return false;
    return t === LABEL_IN ? this.values.has(v) : v.startsWith(this.prefix);
  }
}

export class FilterProcessor implements Processor {
  private rules: CompiledRule[] = [];
  private all = false;
  private drop = true;

  init(config: PluginConfig, _ctx?: PluginContext): void {
    const cfg = parsePluginConfig(filterConfigSchema, config, 'processor filter');
    this.rules = cfg.rules.map((r) => new CompiledRule(r));
    this.all = cfg.match === 'all';
    this.drop = cfg.mode === 'drop';
  }

  process(pkt: OutputPacket): boolean {
    const rules = this.rules;
    let matched = this.all;
    if (this.all) {
      for (let i = 0; i < rules.length; i++) {
        if (!rules[i]!.matches(pkt)) {
          matched = false;
          break;
        }
      }
    } else {
      for (let i = 0; i < rules.length; i++) {
        if (rules[i]!.matches(pkt)) {
          matched = true;
          break;
        }
      }
    }
    return this.drop ? !matched : matched;
  }
}

registerPlugin('processor', 'filter', () => new FilterProcessor());
