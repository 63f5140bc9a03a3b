// The Kafka reporter's task-level config, merged over the global defaults:
// otus.reporters.kafka (itself inheriting brokers/sasl/tls from otus.kafka,
// ADR-024) and otus.backpressure.reporter (send timeout, retries, ADR-001).
import { z } from 'zod';
import { globalConfigSchema, type GlobalConfig } from '../../../config/global-schema.ts';
import { parseDuration } from '../../../config/duration.ts';
import { ConfigError } from '../../../core/errors.ts';
import type { KafkaConnection } from '../../../kafka/client.ts';
import type { CompressionName } from '../../../kafka/codecs.ts';
import { parsePluginConfig } from '../../plugin-config.ts';

/** An optional duration ("3s", "250ms", or seconds): undefined when absent, so the global value applies. */
const optDuration = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const s = parseDuration(v);
    if (s === null) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use e.g. 250ms, 3s)` });
      return z.NEVER;
    }
    return s;
  });

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_" or "-"');

export const kafkaReporterSchema = z
  .strictObject({
    /** Fixed topic for every record. */
    topic: topicName.optional(),
    /** Dynamic routing (ADR-027): "<prefix>-<payload type>"; wins over topic. */
    topic_prefix: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).optional(),
    serialization: z.enum(['json', 'binary']).default('json'),
    // Overrides of otus.reporters.kafka / otus.backpressure.reporter:
    brokers: z.array(z.string().min(1)).optional(),
    compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).optional(),
    batch_size: z.number().int().positive().optional(),
    batch_timeout: optDuration,
    required_acks: z.union([z.literal(-1), z.literal(0), z.literal(1)]).optional(),
    max_message_bytes: z.number().int().positive().optional(),
    send_timeout: optDuration,
    max_retries: z.number().int().min(0).max(10).optional(),
    /** Records the reporter holds while sends are in flight; full = drop oldest. */
    buffer_capacity: z.number().int().positive().optional(),
    /** Concurrent produce requests. */
    max_in_flight: z.number().int().min(1).max(64).default(4),
    client_id: z.string().min(1).optional(),
  })
  .refine((c) => c.topic !== undefined || c.topic_prefix !== undefined, {
    message: 'give "topic" (fixed) or "topic_prefix" (routing by payload type)',
    path: ['topic'],
  });

export interface KafkaReporterSettings {
  connection: KafkaConnection;
  topic: string | null;
  topicPrefix: string | null;
  serialization: 'json' | 'binary';
  compression: CompressionName;
  batchSize: number;
  batchTimeoutMs: number;
  acks: -1 | 0 | 1;
  maxMessageBytes: number;
  sendTimeoutMs: number;
  maxRetries: number;
  bufferCapacity: number;
  maxInFlight: number;
  clientId: string;
}

let defaults: GlobalConfig | null = null;

export function kafkaReporterSettings(config: unknown, global: GlobalConfig | undefined, agent: string): KafkaReporterSettings {
  const c = parsePluginConfig(kafkaReporterSchema, config, 'reporter kafka');
  const g = global ?? (defaults ??= globalConfigSchema.parse({}));
  const rk = g.otus.reporters.kafka;
  const bp = g.otus.backpressure;
  const brokers = c.brokers ?? (rk.brokers.length ? rk.brokers : g.otus.kafka.brokers);
  if (brokers.length === 0) {
    throw new ConfigError(
      'reporter kafka: config.brokers: no brokers; set otus.kafka.brokers (or otus.reporters.kafka.brokers, or the reporter\'s brokers)',
      'config.brokers',
    );
  }
  const batchSize = c.batch_size ?? rk.batch_size;
  return {
    connection: { brokers, sasl: rk.sasl ?? g.otus.kafka.sasl, tls: rk.tls ?? g.otus.kafka.tls },
    topic: c.topic ?? null,
    topicPrefix: c.topic_prefix ?? null,
    serialization: c.serialization,
    compression: c.compression ?? rk.compression,
    batchSize,
    batchTimeoutMs: Math.round((c.batch_timeout ?? rk.batch_timeout) * 1000),
    acks: c.required_acks ?? rk.required_acks,
    maxMessageBytes: c.max_message_bytes ?? rk.max_message_bytes,
    sendTimeoutMs: Math.max(1, Math.round((c.send_timeout ?? bp.reporter.send_timeout) * 1000)),
    maxRetries: c.max_retries ?? bp.reporter.max_retries,
    bufferCapacity: Math.max(c.buffer_capacity ?? bp.send_buffer.capacity, batchSize),
    maxInFlight: c.max_in_flight,
    clientId: c.client_id ?? `otus-${agent}`,
  };
}
