// The policy methods of the control channels (DESIGN section 8): the same
// table serves the Unix socket and the Kafka command topic. Each method
// checks its params (naming the bad field) and hands over to the
// PolicyService; the rules themselves are checked there.
import { z } from 'zod';
import { configErrorFrom } from '../config/zod-errors.ts';
import type { PolicyService } from '../policy/service.ts';
import type { Method } from './uds-server.ts';

/** What the policy methods need of the daemon. */
export interface PolicyControl {
  policy(): PolicyService;
}

const hook = z.strictObject({ interface: z.string().min(1).max(15), direction: z.enum(['ingress', 'egress']).default('ingress') });
const ruleParams = z.strictObject({ rule: z.record(z.string(), z.unknown()) });
const idParams = z.strictObject({ id: z.string().min(1) });
const sessionsParams = z.strictObject({
  limit: z.number().int().min(1).max(100_000).default(20),
  order: z.enum(['bytes', 'packets', 'last_seen']).default('bytes'),
});

function parse<T extends z.ZodType>(schema: T, params: unknown, method: string): z.output<T> {
  const r = schema.safeParse(params ?? {});
  if (!r.success) throw configErrorFrom(`${method} params`, '', r.error);
  return r.data;
}

export function policyMethods(d: PolicyControl): Record<string, Method> {
  return {
    policy_attach: (p) => {
      const h = parse(hook, p, 'policy_attach');
      return d.policy().attach(h.interface, h.direction);
    },
    policy_detach: (p) => {
      const h = parse(hook, p, 'policy_detach');
      return d.policy().detach(h.interface, h.direction);
    },
    // The whole set, checked as one: {default_action?, rules: [...]}.
    policy_replace: (p) => d.policy().replace(p ?? {}),
    policy_add: (p) => d.policy().add(parse(ruleParams, p, 'policy_add').rule),
    policy_delete: (p) => d.policy().delete(parse(idParams, p, 'policy_delete').id),
    policy_list: () => d.policy().list(),
    policy_stats: () => d.policy().stats(),
    policy_sessions: (p) => {
      const s = parse(sessionsParams, p, 'policy_sessions');
      return d.policy().topSessions(s.limit, s.order);
    },
  };
}
