// `otus policy ...`: thin clients of the policy_* methods of the daemon.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { OtusError } from '../core/errors.ts';
import { runControl, type ControlOptions } from './control-client.ts';

function readDoc(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OtusError(`${file}: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw new OtusError(`${file}: not YAML or JSON: ${(e as Error).message}`);
  }
}



function table(rows: Record<string, unknown>[], cols: string[]): string {
  const cells = [cols, ...rows.map((r) => cols.map((c) => String(r[c] ?? '')))];
  const w = cols.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function directions(d: string | undefined): ('ingress' | 'egress')[] {
  const v = d ?? 'ingress';
  if (v === 'both') return ['ingress', 'egress'];
  if (v === 'ingress' || v === 'egress') return [v];
  throw new OtusError(`--direction: expected ingress, egress or both, got "${v}"`);
}

export async function policyAttach(o: ControlOptions & { interface: string; direction?: string }): Promise<number> {
  for (const direction of directions(o.direction)) {
    const rc = await runControl(o, 'policy_attach', { interface: o.interface, direction }, (r: { interface: string; direction: string; prog_id: number }) => `attached to ${r.interface} ${r.direction} (program id ${r.prog_id})\n`);
    if (rc) return rc;
  }
  return 0;
}

export async function policyDetach(o: ControlOptions & { interface: string; direction?: string }): Promise<number> {
  for (const direction of directions(o.direction)) {
    const rc = await runControl(o, 'policy_detach', { interface: o.interface, direction }, (r: { interface: string; direction: string }) => `detached from ${r.interface} ${r.direction}\n`);
    if (rc) return rc;
  }
  return 0;
}

export function policyReplace(o: ControlOptions & { file: string }): Promise<number> {
  return runControl(o, 'policy_replace', readDoc(o.file), (r: { rules: number; default_action: string; generation: number; load_ms: number }) =>
    `policy set replaced: ${r.rules} rules, default ${r.default_action}, generation ${r.generation} (${r.load_ms} ms)\n`);
}

export interface AddOptions extends ControlOptions {
  file?: string;
  id?: string;
  action?: string;
  priority?: string;
  src?: string;
  dst?: string;
  proto?: string;
  srcPort?: string;
  dstPort?: string;
  description?: string;
}

/** A rule from -f, or from the flags; port numbers and numeric protocols become numbers. */
export function ruleFromOptions(o: AddOptions): Record<string, unknown> {
  if (o.file) return readDoc(o.file) as Record<string, unknown>;
  if (!o.id || !o.action) throw new OtusError('policy add: give -f <rule file>, or at least --id and --action');
  const num = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);
  const rule: Record<string, unknown> = { id: o.id, action: o.action };
  if (o.priority !== undefined) rule['priority'] = num(o.priority);
  if (o.src !== undefined) rule['src'] = o.src;
  if (o.dst !== undefined) rule['dst'] = o.dst;
  if (o.proto !== undefined) rule['proto'] = num(o.proto);
  if (o.srcPort !== undefined) rule['src_port'] = num(o.srcPort);
  if (o.dstPort !== undefined) rule['dst_port'] = num(o.dstPort);
  if (o.description !== undefined) rule['description'] = o.description;
  return rule;
}

export function policyAdd(o: AddOptions): Promise<number> {
  return runControl(o, 'policy_add', { rule: ruleFromOptions(o) }, (r: { id: string; rules: number; generation: number }) => `rule ${r.id} added (${r.rules} rules, generation ${r.generation})\n`);
}

export function policyDelete(o: ControlOptions & { id: string }): Promise<number> {
  return runControl(o, 'policy_delete', { id: o.id }, (r: { id: string; rules: number }) => `rule ${r.id} deleted (${r.rules} rules left)\n`);
}

export function policyList(o: ControlOptions): Promise<number> {
  return runControl(o, 'policy_list', undefined, (r: { default_action: string; rules: Record<string, unknown>[]; generation: number | null }) =>
    `default action: ${r.default_action}${r.generation !== null ? `, generation ${r.generation}` : ''}\n` +
    (r.rules.length ? table(r.rules, ['priority', 'id', 'action', 'proto', 'src', 'src_port', 'dst', 'dst_port', 'description']) : 'no rules\n'));
}

export function policyStats(o: ControlOptions): Promise<number> {
  return runControl(o, 'policy_stats', undefined, (r: Record<string, unknown>) => {
    if (!r['loaded']) return `policy dataplane not loaded${r['reason'] ? `: ${r['reason']}` : ''}\nrules: ${r['rules']}, default ${r['default_action']}\n`;
    const c = r['counters'] as Record<string, number>;
    const att = (r['attachments'] as { interface: string; direction: string }[]).map((a) => `${a.interface}/${a.direction}`).join(', ') || 'none';
    return `generation ${r['generation']}, ${r['rules']} rules, default ${r['default_action']}, attached: ${att}\n` + table(Object.entries(c).map(([k, v]) => ({ counter: k, value: v })), ['counter', 'value']);
  });
}

export function policySessions(o: ControlOptions & { limit?: string; order?: string }): Promise<number> {
  const params: Record<string, unknown> = {};
  if (o.limit !== undefined) params['limit'] = Number(o.limit);
  if (o.order !== undefined) params['order'] = o.order;
  return runControl(o, 'policy_sessions', params, (r: { total: number; sessions: Record<string, unknown>[] }) =>
    `${r.total} sessions\n` + (r.sessions.length ? table(r.sessions, ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'proto', 'packets', 'bytes', 'action', 'rule', 'idle_ms']) : ''));
}


