// The policy control plane of the daemon: the rule set, its persistence, the
// attachments, and the dataplane they are applied to. Every change is
// checked first (nothing reaches the kernel or the disk when a rule is bad),
// compiled, published to the kernel atomically, then saved.
//
// The dataplane is loaded on first need. Where eBPF cannot run (no libbpf,
// no privilege, an old kernel, no compiled object) the methods that need it
// fail with an EBPF_UNAVAILABLE error saying why, and nothing else in the
// daemon is affected.
import { ConfigError, OtusError } from '../core/errors.ts';
import type { OutputRecord } from '../core/record.ts';
import type { Log } from '../observe/log-fn.ts';
import { compileSet } from './compile.ts';
import { PolicyDataplane, type Attachment, type DataplaneOptions, type Direction } from './dataplane.ts';
import { eventToRecord } from './events.ts';
import type { DecodedEvent, PolicyStats } from './layout.ts';
import { NO_RULE } from './layout.ts';
import { ACTION_CODE, ACTION_NAME, checkPolicySet, compileRule, formatIpv4, ordered, type CompiledRule, type PolicyAction, type Rule } from './rules.ts';
import { EMPTY_POLICY, PolicyStore, type PersistedPolicy } from './store.ts';

export interface PolicyServiceOptions {
  dataDir: string;
  log: Log;
  dataplane: DataplaneOptions;
  /** Where event records go (the active task's reporters); may drop them when no task runs. */
  sink?: (records: OutputRecord[]) => void;
  /** Persist state under dataDir (default true). */
  persist?: boolean;
}

export type SessionOrder = 'bytes' | 'packets' | 'last_seen';

export interface SessionView {
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  proto: number;
  packets: number;
  bytes: number;
  action: PolicyAction;
  rule: string;
  generation: number;
  age_ms: number;
  idle_ms: number;
}

/** Direction as a parameter: refuses anything else with the field named. */
export function parseDirection(v: unknown, field = 'direction'): Direction {
  if (v === 'ingress' || v === 'egress') return v;
  throw new OtusError(`${field}: expected "ingress" or "egress", got ${JSON.stringify(v)}`, 'INVALID_DIRECTION');
}

export class PolicyService {
  private state: PersistedPolicy = { ...EMPTY_POLICY, rules: [], attachments: [] };
  private dp: PolicyDataplane | null = null;
  private unavailable: string | null = null;
  private readonly store: PolicyStore;
  /** Rule ids by generation, for naming the rule of an event raised under a recent generation. */
  private readonly idsByGen = new Map<number, string[]>();
  private frameNo = 0;
  private eventsDelivered = 0;
  private ruleCount = 0;

  constructor(private readonly o: PolicyServiceOptions) {
    this.store = new PolicyStore(o.dataDir);
  }

  /** Reads the saved state and re-applies it; a failure is logged, never thrown (the daemon keeps running). */
  async start(): Promise<void> {
    if (this.o.persist === false) return;
    let saved: PersistedPolicy | null;
    try {
      saved = await this.store.load();
    } catch (e) {
      this.o.log('error', 'policy state not restored', { error: (e as Error).message });
      return;
    }
    if (!saved) return;
    this.state = saved;
    if (!saved.rules.length && !saved.attachments.length) return;
    try {
      const set = checkPolicySet({ default_action: saved.default_action, rules: saved.rules }, `policy state ${this.store.file}`);
      this.apply(set.compiled, set.defaultAction);
      let marks = false;
      for (const a of saved.attachments) {
        try {
          const att = this.dataplane().attach(a.interface, a.direction, { qdiscCreatedIfindex: a.qdisc_created_ifindex });
          marks = this.markAttachment(att) || marks;
        } catch (e) {
          this.o.log('error', 'policy attachment not restored', { interface: a.interface, direction: a.direction, error: (e as Error).message });
        }
      }
      if (marks) await this.save().catch((e: Error) => this.o.log('warn', 'policy state not saved', { error: e.message }));
      this.o.log('info', 'policy state restored', { rules: saved.rules.length, attachments: this.dataplane().attachments().length });
    } catch (e) {
      this.o.log('error', 'policy state not applied', { error: (e as Error).message });
    }
  }

  /** Detaches everything (TC filters outlive processes) but keeps the saved state for the next start. */
  stop(): void {
    if (this.dp) {
      this.dp.close();
      this.dp = null;
    }
  }

  /** The dataplane, loaded on first need; throws EBPF_UNAVAILABLE with the reason. */
  private dataplane(): PolicyDataplane {
    if (this.dp) return this.dp;
    if (this.unavailable) throw new OtusError(this.unavailable, 'EBPF_UNAVAILABLE');
    try {
      this.dp = PolicyDataplane.open(this.o.dataplane);
    } catch (e) {
      // Missing privilege or support does not come back by itself: remember why, once.
      if (e instanceof OtusError && e.code === 'EBPF_UNAVAILABLE') this.unavailable = e.message;
      this.o.log('error', 'policy dataplane unavailable', { error: (e as Error).message });
      throw e;
    }
    this.dp.startEvents((ev) => this.onEvent(ev));
    return this.dp;
  }

  /** Exposed for tests and the benchmark: the loaded dataplane (loading it if needed). */
  get kernel(): PolicyDataplane {
    return this.dataplane();
  }

  private apply(compiled: CompiledRule[], defaultAction: PolicyAction): number {
    const rules = ordered(compiled);
    const set = compileSet(rules);
    const gen = this.dataplane().publish(set, ACTION_CODE[defaultAction]);
    this.idsByGen.set(gen, rules.map((r) => r.id));
    for (const g of this.idsByGen.keys()) if (g < gen - 8) this.idsByGen.delete(g);
    this.ruleCount = rules.length;
    return gen;
  }

  private async save(): Promise<void> {
    if (this.o.persist === false) return;
    await this.store.save(this.state);
  }

  /** Replaces the whole set (and the default action) atomically. */
  async replace(input: unknown): Promise<{ rules: number; default_action: PolicyAction; generation: number; load_ms: number }> {
    const set = checkPolicySet(input);
    const t0 = performance.now();
    const generation = this.apply(set.compiled, set.defaultAction);
    const load_ms = Math.round((performance.now() - t0) * 100) / 100;
    this.state = { ...this.state, default_action: set.defaultAction, rules: set.rules };
    await this.save();
    return { rules: set.rules.length, default_action: set.defaultAction, generation, load_ms };
  }

  async add(input: unknown): Promise<{ id: string; rules: number; generation: number }> {
    const c = compileRule(input, 'rule');
    if (this.state.rules.some((r) => (r as Rule).id === c.id)) throw new ConfigError(`rule.id: duplicate id "${c.id}" (delete it first, or replace the set)`, 'rule.id');
    const set = checkPolicySet({ default_action: this.state.default_action, rules: [...this.state.rules, input] });
    const generation = this.apply(set.compiled, set.defaultAction);
    this.state = { ...this.state, rules: set.rules };
    await this.save();
    return { id: c.id, rules: set.rules.length, generation };
  }

  async delete(id: string): Promise<{ id: string; rules: number; generation: number }> {
    const rest = this.state.rules.filter((r) => (r as Rule).id !== id);
    if (rest.length === this.state.rules.length) throw new OtusError(`id: no rule "${id}"`, 'RULE_NOT_FOUND');
    const set = checkPolicySet({ default_action: this.state.default_action, rules: rest });
    const generation = this.apply(set.compiled, set.defaultAction);
    this.state = { ...this.state, rules: set.rules };
    await this.save();
    return { id, rules: set.rules.length, generation };
  }

  list(): { default_action: PolicyAction; rules: Rule[]; generation: number | null } {
    const rules = ordered((this.state.rules as Rule[]).map((r) => ({ ...r, priority: r.priority ?? 1000 })));
    return { default_action: this.state.default_action, rules, generation: this.dp?.gen ?? null };
  }

  async attach(ifname: string, direction: Direction): Promise<{ interface: string; direction: Direction; ifindex: number; prog_id: number }> {
    const dp = this.dataplane();
    if (dp.gen === 0) {
      // Nothing published yet: publish the saved (possibly empty) set, so the default action is the configured one.
      const set = checkPolicySet({ default_action: this.state.default_action, rules: this.state.rules });
      this.apply(set.compiled, set.defaultAction);
    }
    const saved = this.state.attachments.find((x) => x.interface === ifname && x.direction === direction);
    const a = dp.attach(ifname, direction, { qdiscCreatedIfindex: saved?.qdisc_created_ifindex });
    if (this.markAttachment(a)) await this.save();
    return { interface: a.interface, direction: a.direction, ifindex: a.ifindex, prog_id: a.progId };
  }

  /**
   * Puts an attachment in the saved state with its qdisc mark (the ifindex
   * when the clsact qdisc is ours); true when the state changed.
   */
  private markAttachment(a: Attachment): boolean {
    const entry: PersistedPolicy['attachments'][number] = {
      interface: a.interface,
      direction: a.direction,
      ...(a.ownQdisc ? { qdisc_created_ifindex: a.ifindex } : {}),
    };
    const list = this.state.attachments;
    const i = list.findIndex((x) => x.interface === a.interface && x.direction === a.direction);
    if (i >= 0 && list[i]!.qdisc_created_ifindex === entry.qdisc_created_ifindex) return false;
    const next = i >= 0 ? list.map((x, j) => (j === i ? entry : x)) : [...list, entry];
    this.state = { ...this.state, attachments: next };
    return true;
  }

  async detach(ifname: string, direction: Direction): Promise<{ interface: string; direction: Direction; detached: boolean }> {
    const detached = this.dp ? this.dp.detach(ifname, direction) : false;
    const before = this.state.attachments.length;
    this.state = { ...this.state, attachments: this.state.attachments.filter((x) => !(x.interface === ifname && x.direction === direction)) };
    if (!detached && before === this.state.attachments.length) throw new OtusError(`policy is not attached to ${ifname} ${direction}`, 'NOT_ATTACHED');
    await this.save();
    return { interface: ifname, direction, detached };
  }

  /** The counters and the state; `available: false` with the reason where eBPF cannot run. */
  stats(): Record<string, unknown> {
    const base = {
      rules: this.state.rules.length,
      default_action: this.state.default_action,
      attachments: this.dp ? this.dp.attachments().map((a) => ({ interface: a.interface, direction: a.direction, prog_id: a.progId })) : [],
      saved_attachments: this.state.attachments,
    };
    if (!this.dp) return { available: this.unavailable === null, loaded: false, ...(this.unavailable ? { reason: this.unavailable } : {}), ...base };
    return {
      available: true,
      loaded: true,
      generation: this.dp.gen,
      sessions_max: this.dp.sessionsMax,
      events_delivered: this.eventsDelivered,
      ...base,
      counters: this.dp.stats(),
    };
  }

  /** For the metrics endpoint: null while nothing is loaded. */
  figures(): { stats: PolicyStats; rules: number; attachments: number; generation: number; eventsDelivered: number } | null {
    if (!this.dp) return null;
    return { stats: this.dp.stats(), rules: this.ruleCount, attachments: this.dp.attachments().length, generation: this.dp.gen, eventsDelivered: this.eventsDelivered };
  }

  /** The `limit` busiest sessions (by bytes, packets or most recent activity). */
  topSessions(limit = 20, order: SessionOrder = 'bytes'): { total: number; sessions: SessionView[] } {
    const dp = this.dataplane();
    const all = dp.sessions();
    const key = order === 'bytes' ? (s: (typeof all)[number]) => s.bytes : order === 'packets' ? (s: (typeof all)[number]) => s.packets : (s: (typeof all)[number]) => Number(s.lastNs);
    all.sort((a, b) => key(b) - key(a));
    const now = process.hrtime.bigint();
    const sessions = all.slice(0, limit).map((s) => ({
      src_ip: formatIpv4(s.srcIp),
      dst_ip: formatIpv4(s.dstIp),
      src_port: s.srcPort,
      dst_port: s.dstPort,
      proto: s.proto,
      packets: s.packets,
      bytes: s.bytes,
      action: ACTION_NAME[s.action] ?? 'allow',
      rule: this.ruleName(s.gen, s.rule),
      generation: s.gen,
      age_ms: Number((now - s.firstNs) / 1_000_000n),
      idle_ms: Number((now - s.lastNs) / 1_000_000n),
    }));
    return { total: all.length, sessions };
  }

  private ruleName(gen: number, rule: number): string {
    if (rule === NO_RULE) return 'default';
    return this.idsByGen.get(gen)?.[rule] ?? `#${rule}`;
  }

  private onEvent(ev: DecodedEvent): void {
    this.eventsDelivered++;
    if (!this.o.sink) return;
    const dp = this.dp;
    const rec = eventToRecord(
      ev,
      {
        ruleId: (g, r) => this.idsByGen.get(g)?.[r] ?? null,
        ifname: (i) => dp?.attachments().find((a) => a.ifindex === i)?.interface ?? `if${i}`,
      },
      ++this.frameNo,
    );
    this.o.sink([rec]);
  }
}
