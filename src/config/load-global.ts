// Loads the global configuration: YAML file, then OTUS_* environment
// overrides, then validation (every bad field named), then derived values
// (Kafka inheritance, ${node.hostname} interpolation).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { globalConfigSchema, type GlobalConfig } from './global-schema.ts';
import { configErrorFrom } from './zod-errors.ts';

export const DEFAULT_CONFIG_PATH = '/etc/otus/config.yml';

type Tree = Record<string, unknown>;

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Dotted paths of every leaf of the default configuration (records and arrays are leaves). */
function leafPaths(tree: Tree, prefix: string[] = [], out: string[][] = []): string[][] {
  for (const [k, v] of Object.entries(tree)) {
    const p = [...prefix, k];
    // tags and labels are free-form records: one variable holds the whole map.
    if (isPlainObject(v) && k !== 'tags' && k !== 'labels') leafPaths(v, p, out);
    else out.push(p);
  }
  return out;
}

/** OTUS_LOG_OUTPUTS_FILE_ROTATION_MAX_SIZE_MB <- otus.log.outputs.file.rotation.max_size_mb */
export function envNameFor(path: string[]): string {
  return ['OTUS', ...path.slice(1)].join('_').toUpperCase();
}

let defaultsCache: Tree | null = null;
function defaults(): Tree {
  defaultsCache ??= globalConfigSchema.parse({}) as unknown as Tree;
  return defaultsCache;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const k of path.slice(0, -1)) {
    if (!isPlainObject(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

/** Applies OTUS_* variables onto the raw tree; values are read as YAML scalars/flow collections. */
export function applyEnvOverrides(raw: Tree, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  for (const path of leafPaths(defaults())) {
    const name = envNameFor(path);
    const v = env[name];
    if (v === undefined) continue;
    let value: unknown;
    try {
      value = v === '' ? '' : parseYaml(v);
    } catch {
      value = v;
    }
    // A string field given digits stays a string (node.ip, passwords...).
    const dflt = path.reduce<unknown>((n, k) => (isPlainObject(n) ? n[k] : undefined), defaults());
    if (typeof dflt === 'string' && typeof value !== 'string') value = v;
    setPath(raw, path, value);
    applied.push(name);
  }
  return applied;
}

/** A bad value that came from an OTUS_* variable says so: the file is not where to look for it. */
function withEnvSources(e: ConfigError, applied: string[]): ConfigError {
  if (applied.length === 0) return e;
  let msg = e.message;
  for (const path of leafPaths(defaults())) {
    const name = envNameFor(path);
    if (!applied.includes(name)) continue;
    const dotted = path.join('.').replace(/\./g, '\\.');
    msg = msg.replace(new RegExp(`(^|; |: )(${dotted}(?:\\.[^:;]*)?):`, 'g'), `$1$2 (from ${name}):`);
  }
  return msg === e.message ? e : new ConfigError(msg, e.path);
}

export interface LoadedConfig {
  config: GlobalConfig;
  /** The file it came from, or null when defaults were used. */
  file: string | null;
  envOverrides: string[];
}

/**
 * Reads `file` (or nothing when null: defaults), applies the environment and
 * validates. Throws ConfigError naming the file and every bad field.
 */
export function loadGlobalConfig(file: string | null, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: Tree = {};
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${file}: cannot read configuration: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text, { prettyErrors: true });
    } catch (e) {
      throw new ConfigError(`${file}: not valid YAML: ${(e as Error).message}`);
    }
    if (doc !== null && doc !== undefined && !isPlainObject(doc)) {
      throw new ConfigError(`${file}: the top level must be a mapping with an "otus:" key`, '(root)');
    }
    raw = (doc as Tree | null) ?? {};
  }
  const envOverrides = applyEnvOverrides(raw, env);
  const parsed = globalConfigSchema.safeParse(raw);
  if (!parsed.success) throw withEnvSources(configErrorFrom(file ?? 'configuration', '', parsed.error), envOverrides);
  const config = parsed.data;
  finalize(config);
  return { config, file, envOverrides };
}

/** Derived values: hostname, node IP, Kafka inheritance (ADR-024), ${node.hostname} and ${node.ip} interpolation. */
function finalize(c: GlobalConfig): void {
  const o = c.otus;
  if (!o.node.hostname) o.node.hostname = os.hostname();
  for (const child of [o.command_channel.kafka, o.reporters.kafka]) {
    if (child.brokers.length === 0) child.brokers = [...o.kafka.brokers];
    if (child.sasl === undefined || !child.sasl.enabled) child.sasl = { ...o.kafka.sasl };
    if (child.tls === undefined || !child.tls.enabled) child.tls = { ...o.kafka.tls };
  }
  // Detected before interpolation, so that ${node.ip} in group_id is the
  // address the daemon will report (ADR-023), not an empty string.
  if (!o.node.ip) o.node.ip = resolveNodeIp(c) ?? '';
  o.command_channel.kafka.group_id = interpolate(o.command_channel.kafka.group_id, c);
}

export function interpolate(s: string, c: GlobalConfig): string {
  return s.replace(/\$\{node\.(hostname|ip)\}/g, (_, k: string) => (k === 'hostname' ? c.otus.node.hostname : c.otus.node.ip));
}

/**
 * Node IP (ADR-023): OTUS_NODE_IP (already applied as an override), the
 * configured value, else the first up, non-loopback, non-link-local IPv4.
 * Returns null when none can be found; the daemon refuses to start then.
 */
export function resolveNodeIp(c: GlobalConfig): string | null {
  if (c.otus.node.ip) return c.otus.node.ip;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
    }
  }
  return null;
}
