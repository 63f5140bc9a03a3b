// The global configuration (DESIGN section 5, ADR-013/023/024/025/030/031):
// what does not change from task to task. Unknown keys are refused so that a
// typo never silently falls back to a default.
import { z } from 'zod';
import { parseDuration } from './duration.ts';

/** A duration field: "30s", "5m", 250ms, or a number of seconds; parsed to seconds. */
export const duration = (dflt: string) =>
  z
    .union([z.string(), z.number()])
    .default(dflt)
    .transform((v, ctx) => {
      const s = parseDuration(v);
      if (s === null) {
        ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use e.g. 250ms, 30s, 5m, 1h)` });
        return z.NEVER;
      }
      return s;
    });

// Every section may be omitted: it is then built from its fields' defaults.
const obj = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).prefault({} as never);

const sasl = obj({
  enabled: z.boolean().default(false),
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).default('plain'),
  username: z.string().default(''),
  password: z.string().default(''),
});

const tls = obj({
  enabled: z.boolean().default(false),
  ca_file: z.string().default(''),
  cert_file: z.string().default(''),
  key_file: z.string().default(''),
  insecure_skip_verify: z.boolean().default(false),
});

/** Kafka connection settings; empty values inherit from otus.kafka (ADR-024). */
const kafkaConnection = {
  brokers: z.array(z.string().min(1)).default([]),
  sasl: sasl.optional(),
  tls: tls.optional(),
};

const positiveInt = z.number().int().positive();

export const globalConfigSchema = z.strictObject({
  otus: obj({
    node: obj({
      ip: z.string().default(''),
      hostname: z.string().default(''),
      tags: z.record(z.string(), z.string()).default({}),
    }),
    control: obj({
      socket: z.string().default('/var/run/otus.sock'),
      pid_file: z.string().default('/var/run/otus.pid'),
    }),
    data_dir: z.string().default('/var/lib/otus'),
    kafka: obj({
      brokers: z.array(z.string().min(1)).default([]),
      sasl,
      tls,
    }),
    command_channel: obj({
      enabled: z.boolean().default(false),
      kafka: obj({
        ...kafkaConnection,
        topic: z.string().default('otus-commands'),
        response_topic: z.string().default('otus-responses'),
        group_id: z.string().default('otus-${node.hostname}'),
        auto_offset_reset: z.enum(['earliest', 'latest']).default('latest'),
      }),
      command_ttl: duration('5m'),
    }),
    metrics: obj({
      enabled: z.boolean().default(true),
      listen: z.string().default('127.0.0.1:9091'),
      path: z.string().startsWith('/').default('/metrics'),
    }),
    reporters: obj({
      kafka: obj({
        ...kafkaConnection,
        compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
        batch_size: positiveInt.default(1000),
        batch_timeout: duration('100ms'),
        required_acks: z.union([z.literal(-1), z.literal(0), z.literal(1)]).default(1),
        max_message_bytes: positiveInt.default(1_000_000),
      }),
    }),
    resources: obj({
      /** 0 = all available cores. */
      max_workers: z.number().int().min(0).default(0),
    }),
    backpressure: obj({
      pipeline_channel: obj({
        /** Bytes of shared ring per worker (dispatch mode); full = drop newest (live) or wait (files). */
        capacity_bytes: positiveInt.min(1 << 16).default(8 << 20),
      }),
      send_buffer: obj({
        /** Records per reporter; full = drop oldest. */
        capacity: positiveInt.default(65536),
        batch_size: positiveInt.default(512),
      }),
      reporter: obj({
        send_timeout: duration('3s'),
        max_retries: z.number().int().min(0).max(10).default(1),
      }),
    }),
    core: obj({
      decoder: obj({
        tunnel: obj({
          vxlan: z.boolean().default(false),
          geneve: z.boolean().default(false),
          gre: z.boolean().default(false),
          erspan: z.boolean().default(false),
          ipip: z.boolean().default(false),
        }),
        ip_reassembly: obj({
          timeout: duration('30s'),
          max_fragments: positiveInt.default(10000),
        }),
        tcp_reassembly: obj({
          enabled: z.boolean().default(false),
          /** Ports whose streams are reassembled; empty = the ports of the task's stream parsers. */
          ports: z.array(z.number().int().min(1).max(65535)).default([]),
          /** Follow streams first seen mid-way (ADR-005c) ... */
          mid_stream_join: z.boolean().default(true),
          /** ... except on these ports, followed only from their SYN (WebSocket framing cannot resynchronise reliably). */
          syn_required_ports: z.array(z.number().int().min(1).max(65535)).default([]),
          max_concurrent_streams: positiveInt.default(10000),
          per_stream_buffer_limit: positiveInt.default(32 * 1024),
          global_memory_limit: positiveInt.default(128 * 1024 * 1024),
          stream_timeout: duration('120s'),
          gap_timeout: duration('5s'),
          /** At global_memory_limit the least recently used streams are evicted (the only policy, ADR-005f). */
          overflow_policy: z.enum(['drop_oldest']).default('drop_oldest'),
        }).refine((t) => t.global_memory_limit >= 4 * t.per_stream_buffer_limit + 512, {
          message: 'global_memory_limit must be at least 4 x per_stream_buffer_limit + 512 (one stream may hold that much)',
        }),
      }),
      // The per-task FlowRegistry shared by the workers (ADR-008): endpoints
      // registered from SDP. Fixed size, allocated once per task.
      flow_registry: obj({
        capacity: positiveInt.max(1 << 20).default(65536),
      }),
    }),
    log: obj({
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      format: z.enum(['json', 'text']).default('json'),
      outputs: obj({
        stdout: obj({ enabled: z.boolean().default(true) }),
        file: obj({
          enabled: z.boolean().default(false),
          path: z.string().default('/var/log/otus/otus.log'),
          rotation: obj({
            max_size_mb: positiveInt.default(100),
            max_age_days: positiveInt.default(7),
            max_backups: z.number().int().min(0).default(5),
            compress: z.boolean().default(true),
          }),
        }),
        loki: obj({
          enabled: z.boolean().default(false),
          endpoint: z.string().default(''),
          labels: z.record(z.string(), z.string()).default({}),
          batch_size: positiveInt.default(100),
          batch_timeout: duration('1s'),
        }),
      }),
    }),
    task_persistence: obj({
      enabled: z.boolean().default(true),
      auto_restart: z.boolean().default(true),
      gc_interval: duration('1h'),
      max_task_history: z.number().int().min(0).default(100),
      task_ttl: duration('7d'),
    }),
    // The eBPF policy dataplane (DESIGN section 8); read when it is first loaded.
    policy: obj({
      sessions_max: positiveInt.max(10_000_000).default(100_000),
      ring_buffer_kb: positiveInt.refine((v) => v >= 4 && (v & (v - 1)) === 0, 'a power of two, at least 4').default(256),
      events_new_session: z.boolean().default(false),
      event_interval: duration('1s'),
      object: z.string().default(''),
    }),
  }),
});

export type GlobalConfig = z.output<typeof globalConfigSchema>;
