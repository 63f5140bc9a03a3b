// A real Kafka broker for a test file, through scripts/kafka.sh: its own
// ports and state dir, so test files running side by side do not share one.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import kafkajs, { type Kafka, type KafkaMessage } from 'kafkajs';
import { registerCodecs } from '../../src/kafka/codecs.ts';

const { Kafka: KafkaClass, logLevel } = kafkajs;

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/kafka.sh');

/** Two consecutive free ports on loopback (client, controller). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    // Below Linux's ephemeral range (32768-60999): a port checked free here
    // cannot be taken by some client's outgoing connection before the broker binds it.
    const port = 12000 + Math.floor(Math.random() * 20000);
    const ok = await Promise.all([port, port + 1].map((p) => new Promise<boolean>((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
    })));
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free port pair');
}

export interface Broker {
  port: number;
  brokers: string[];
  stateDir: string;
  /** SIGKILL, as a crash: data kept. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the state dir. */
  destroy(): Promise<void>;
}

export async function startBroker(): Promise<Broker> {
  // Another process may still take the pair between the check and the bind:
  // kafka.sh then refuses ("taken by another process") and a new pair is tried.
  for (let attempt = 1; ; attempt++) {
    const port = await freePortPair();
    const stateDir = mkdtempSync(join(tmpdir(), 'otus-kafka-test-'));
    try {
      return await startBrokerOn(port, stateDir);
    } catch (e) {
      rmSync(stateDir, { recursive: true, force: true });
      const msg = String((e as { stderr?: string }).stderr ?? (e as Error).message);
      if (attempt >= 3 || !msg.includes('is taken by another process')) throw e;
    }
  }
}

async function startBrokerOn(port: number, stateDir: string): Promise<Broker> {
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_STATE_DIR: stateDir };
  const sh = (cmd: string) => run('bash', [SCRIPT, cmd], { env, timeout: 180_000 }).then(() => undefined);
  await sh('start');
  return {
    port,
    brokers: [`127.0.0.1:${port}`],
    stateDir,
    kill: () => sh('kill'),
    start: () => sh('start'),
    destroy: async () => {
      await sh('kill').catch(() => {}); // its data is thrown away: no graceful shutdown needed
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function testClient(brokers: string[]): Kafka {
  registerCodecs(); // the consumer must read snappy, lz4 and zstd batches too
  return new KafkaClass({ clientId: 'otus-test', brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
}

export interface Consumed {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

function plain(m: KafkaMessage, topic: string): Consumed {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
  return { topic, key: m.key?.toString() ?? '', value: m.value ?? Buffer.alloc(0), headers };
}

/**
 * Reads `topics` from the beginning until `count` messages arrived (or, on a
 * loaded machine where the group join alone can take half a minute,
 * `timeoutMs` passed), then waits `settleMs` more to catch any extra one.
 */
export async function consumeAll(brokers: string[], topics: string[], count: number, timeoutMs = 90_000, settleMs = 1000): Promise<Consumed[]> {
  const kafka = testClient(brokers);
  const c = kafka.consumer({ groupId: `otus-test-${process.pid}-${Date.now()}-${Math.random()}`, retry: { retries: 8 } });
  const out: Consumed[] = [];
  await c.connect();
  try {
    for (const topic of topics) await c.subscribe({ topic, fromBeginning: true });
    let reached!: () => void;
    const done = new Promise<void>((r) => (reached = r));
    await c.run({
      eachMessage: async ({ topic, message }) => {
        out.push(plain(message, topic));
        if (out.length >= count) reached();
      },
    });
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    await c.disconnect();
  }
  return out;
}
