// The dataplane's counters as Prometheus metrics, read from the per-CPU
// statistics map when Prometheus scrapes (never on the packet path).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PolicyStats } from './layout.ts';

export interface PolicyMetricsSource {
  /** null while no dataplane is loaded. */
  figures(): { stats: PolicyStats; rules: number; attachments: number; generation: number; eventsDelivered: number } | null;
}

const COUNTERS: [keyof PolicyStats, string, string][] = [
  ['packets', 'otus_policy_packets_total', 'Packets the policy program saw'],
  ['bytes', 'otus_policy_bytes_total', 'Bytes the policy program saw'],
  ['allowed', 'otus_policy_allowed_total', 'Packets passed by ALLOW (rule or default)'],
  ['denied', 'otus_policy_denied_total', 'Packets dropped by DENY (rule or default)'],
  ['logged', 'otus_policy_logged_total', 'Packets passed and reported by LOG'],
  ['session_hits', 'otus_policy_session_hits_total', 'Packets decided by their cached session entry'],
  ['new_sessions', 'otus_policy_new_sessions_total', 'Sessions created (first packet matched against the policies)'],
  ['reclassified', 'otus_policy_reclassified_total', 'Sessions decided again after a policy change'],
  ['events', 'otus_policy_events_total', 'Events written to the ring buffer'],
  ['events_lost', 'otus_policy_events_lost_total', 'Events lost because the ring buffer was full'],
  ['not_ipv4', 'otus_policy_not_ipv4_total', 'Packets passed unexamined (not IPv4, or truncated)'],
];

export function registerPolicyMetrics(register: Registry, src: PolicyMetricsSource): void {
  for (const [field, name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        const f = src.figures();
        if (f) this.inc(f.stats[field]);
      },
    });
  }
  const gauge = (name: string, help: string, read: (f: NonNullable<ReturnType<PolicyMetricsSource['figures']>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        const f = src.figures();
        this.set(f ? read(f) : 0);
      },
    });
  gauge('otus_policy_rules', 'Rules in the active policy set', (f) => f.rules);
  gauge('otus_policy_attachments', 'TC hooks the policy program is attached to', (f) => f.attachments);
  gauge('otus_policy_generation', 'Generation of the active policy set', (f) => f.generation);
  gauge('otus_policy_loaded', '1 when the policy dataplane is loaded', () => 1);
}
