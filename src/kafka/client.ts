// Builds a kafkajs client from the connection settings every Kafka user of
// Otus shares (ADR-024: brokers, SASL and TLS inherited from otus.kafka):
// the Kafka reporter, the command channel and `otus remote`.
import { readFileSync } from 'node:fs';
import kafkajs, { type Kafka, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { OtusError } from '../core/errors.ts';
import type { Log } from '../observe/log-fn.ts';
import { registerCodecs } from './codecs.ts';

const { Kafka: KafkaClass, logLevel } = kafkajs; // CommonJS: named exports come off the default

export interface KafkaSasl {
  enabled: boolean;
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaTls {
  enabled: boolean;
  ca_file: string;
  cert_file: string;
  key_file: string;
  insecure_skip_verify: boolean;
}

export interface KafkaConnection {
  brokers: string[];
  sasl?: KafkaSasl | undefined;
  tls?: KafkaTls | undefined;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new OtusError(`kafka tls.${what}: cannot read ${file}: ${(e as Error).message}`, 'CONFIG_ERROR');
  }
}

export interface ClientOptions {
  clientId: string;
  /** Per-request timeout; also bounds connecting. */
  requestTimeoutMs: number;
  /** Where kafkajs' own messages go (at debug level: Otus logs what matters itself). */
  log?: Log | undefined;
  /** kafkajs' own retries; 0 for the reporter (its retries are bounded by max_retries). */
  retries?: number;
}

export function kafkaClient(conn: KafkaConnection, o: ClientOptions): Kafka {
  if (conn.brokers.length === 0) {
    throw new OtusError('no Kafka brokers configured (set otus.kafka.brokers)', 'CONFIG_ERROR');
  }
  registerCodecs();
  const cfg: KafkaConfig = {
    clientId: o.clientId,
    brokers: conn.brokers,
    connectionTimeout: Math.min(o.requestTimeoutMs, 3000),
    requestTimeout: o.requestTimeoutMs,
    // Otus decides itself when to try again (ADR-001: at most max_retries).
    retry: { retries: o.retries ?? 0 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      // A broker outage makes kafkajs log every failed connect: keep them at debug.
      o.log?.('debug', `kafkajs: ${entry.log.message}`, { namespace: entry.namespace });
    },
  };
  const t = conn.tls;
  if (t?.enabled) {
    cfg.ssl = {
      rejectUnauthorized: !t.insecure_skip_verify,
      ...(t.ca_file ? { ca: [readPem(t.ca_file, 'ca_file')] } : {}),
      ...(t.cert_file ? { cert: readPem(t.cert_file, 'cert_file') } : {}),
      ...(t.key_file ? { key: readPem(t.key_file, 'key_file') } : {}),
    };
  }
  const s = conn.sasl;
  if (s?.enabled) {
    cfg.sasl = { mechanism: s.mechanism, username: s.username, password: s.password } as SASLOptions;
  }
  return new KafkaClass(cfg);
}

/** Races a promise against a timeout; the loser is left to settle on its own (errors swallowed). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  p.catch(() => {});
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}
