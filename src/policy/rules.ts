// Policy rules as operators write them, and their checked, numeric form.
//
// A rule matches the initiator's 5-tuple of a session (the first packet's
// source and destination); every field but id and action may be omitted or
// "any". Rules are ordered by priority (lower first), then by the order they
// were given in; the first matching rule decides, and when none matches the
// policy set's default action does.
//
// Every refusal names the field (rules[3].src: ...), as the task schema does.
import { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';
import { ConfigError } from '../core/errors.ts';

export const ACTIONS = ['allow', 'deny', 'log'] as const;
export type PolicyAction = (typeof ACTIONS)[number];
export const ACTION_CODE: Record<PolicyAction, number> = { allow: 0, deny: 1, log: 2 };
export const ACTION_NAME: readonly PolicyAction[] = ['allow', 'deny', 'log'];

const PROTO_NAMES: Record<string, number> = { icmp: 1, tcp: 6, udp: 17 };
export const MAX_RULES = 16384;

const action = z.enum(ACTIONS, { error: (i) => `unknown action ${JSON.stringify(i.input)} (expected allow, deny or log)` });
const port = z.number().int().min(0).max(65535);
const portSpec = z.union([z.literal('any'), port, z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'a port, "from-to" or "any"'), z.strictObject({ from: port, to: port })]);

export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'an id of 1-64 letters, digits, "_", ".", ":" or "-"'),
  priority: z.number().int().min(0).max(1_000_000).default(1000),
  action,
  src: z.string().default('any'),
  dst: z.string().default('any'),
  proto: z.union([z.enum(['any', 'tcp', 'udp', 'icmp']), z.number().int().min(0).max(255)]).default('any'),
  src_port: portSpec.default('any'),
  dst_port: portSpec.default('any'),
  description: z.string().max(256).optional(),
});
export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;

export const policySetSchema = z.strictObject({
  default_action: action.default('allow'),
  rules: z.array(z.unknown()).max(MAX_RULES, `at most ${MAX_RULES} rules`).default([]),
});

/** A rule in numbers: addresses as host-order u32, -1 for any protocol. */
export interface CompiledRule {
  id: string;
  priority: number;
  action: number;
  src: number;
  srcLen: number;
  dst: number;
  dstLen: number;
  proto: number;
  sport: [number, number];
  dport: [number, number];
}

function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]![0] === '0')) return null;
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** "any", an address, or a CIDR prefix with no host bits set. */
export function parseCidr(s: string, field: string): { addr: number; len: number } {
  if (s === 'any' || s === '*') return { addr: 0, len: 0 };
  if (s.includes(':')) throw new ConfigError(`${field}: bad CIDR "${s}": IPv6 is not supported by the policy dataplane (IPv4 only)`, field);
  const [a, l, extra] = s.split('/');
  const addr = parseIpv4(a ?? '');
  if (addr === null || extra !== undefined) throw new ConfigError(`${field}: bad CIDR "${s}": expected an IPv4 address or address/prefix-length, or "any"`, field);
  let len = 32;
  if (l !== undefined) {
    if (!/^\d{1,2}$/.test(l) || Number(l) > 32) throw new ConfigError(`${field}: bad CIDR "${s}": prefix length must be 0..32`, field);
    len = Number(l);
  }
  if ((addr & ~maskOf(len)) >>> 0 !== 0) {
    throw new ConfigError(`${field}: bad CIDR "${s}": host bits set (did you mean ${formatIpv4((addr & maskOf(len)) >>> 0)}/${len}?)`, field);
  }
  return { addr, len };
}

function parsePorts(spec: Rule['src_port'], field: string): [number, number] {
  if (spec === 'any') return [0, 65535];
  if (typeof spec === 'number') return [spec, spec];
  let from: number;
  let to: number;
  if (typeof spec === 'string') {
    const [a, b] = spec.split('-');
    from = Number(a);
    to = b === undefined ? from : Number(b);
  } else {
    ({ from, to } = spec);
  }
  if (from > 65535 || to > 65535) throw new ConfigError(`${field}: port out of range 0..65535 in ${JSON.stringify(spec)}`, field);
  if (from > to) throw new ConfigError(`${field}: inverted port range ${from}-${to} (from must not exceed to)`, field);
  return [from, to];
}

/** Checks one rule; `at` is its path (e.g. "rules[2]"). */
export function compileRule(input: unknown, at: string): CompiledRule {
  const r = ruleSchema.safeParse(input);
  if (!r.success) throw configErrorFrom('policy rule', at, r.error);
  const rule = r.data;
  const src = parseCidr(rule.src, `${at}.src`);
  const dst = parseCidr(rule.dst, `${at}.dst`);
  const proto = rule.proto === 'any' ? -1 : typeof rule.proto === 'number' ? rule.proto : PROTO_NAMES[rule.proto]!;
  const sport = parsePorts(rule.src_port, `${at}.src_port`);
  const dport = parsePorts(rule.dst_port, `${at}.dst_port`);
  const hasPorts = proto === 6 || proto === 17 || proto === -1;
  for (const [name, p] of [['src_port', sport], ['dst_port', dport]] as const) {
    if (!hasPorts && !(p[0] === 0 && p[1] === 65535)) {
      throw new ConfigError(`${at}.${name}: ports apply only to tcp and udp (this rule's proto is ${rule.proto})`, `${at}.${name}`);
    }
  }
  return { id: rule.id, priority: rule.priority, action: ACTION_CODE[rule.action], src: src.addr, srcLen: src.len, dst: dst.addr, dstLen: dst.len, proto, sport, dport };
}

export interface CheckedPolicySet {
  defaultAction: PolicyAction;
  /** As given (with defaults filled in), for persistence and listing. */
  rules: Rule[];
  compiled: CompiledRule[];
}

/** Checks a whole set: every rule, and that no id appears twice. */
export function checkPolicySet(input: unknown, source = 'policy set'): CheckedPolicySet {
  const s = policySetSchema.safeParse(input ?? {});
  if (!s.success) throw configErrorFrom(source, '', s.error);
  const seen = new Map<string, number>();
  const rules: Rule[] = [];
  const compiled: CompiledRule[] = [];
  s.data.rules.forEach((raw, i) => {
    const c = compileRule(raw, `rules[${i}]`);
    const prev = seen.get(c.id);
    if (prev !== undefined) throw new ConfigError(`rules[${i}].id: duplicate id "${c.id}" (also rules[${prev}])`, `rules[${i}].id`);
    seen.set(c.id, i);
    rules.push(ruleSchema.parse(raw));
    compiled.push(c);
  });
  return { defaultAction: s.data.default_action, rules, compiled };
}

/** Priority order: lower priority value first, then the order given (a stable sort). */
export function ordered<T extends { priority: number }>(rules: readonly T[]): T[] {
  return rules.map((r, i) => ({ r, i })).sort((a, b) => a.r.priority - b.r.priority || a.i - b.i).map((x) => x.r);
}

/** The reference matcher: the first rule in priority order that accepts the tuple. */
export function firstMatch(rules: readonly CompiledRule[], src: number, dst: number, proto: number, sport: number, dport: number): CompiledRule | null {
  for (const r of rules) {
    if (((src & maskOf(r.srcLen)) >>> 0) !== r.src) continue;
    if (((dst & maskOf(r.dstLen)) >>> 0) !== r.dst) continue;
    if (r.proto !== -1 && r.proto !== proto) continue;
    if (sport < r.sport[0] || sport > r.sport[1] || dport < r.dport[0] || dport > r.dport[1]) continue;
    return r;
  }
  return null;
}

export { parseIpv4 };
