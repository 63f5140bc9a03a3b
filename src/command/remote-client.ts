// The reference remote caller (ADR-029): publishes a command on
// otus-commands (key = target, ADR-026) and waits for the response with the
// same request_id on otus-responses, reading it through a consumer group of
// its own instance (from the environment, never shared between instances).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { KafkaConnection } from '../kafka/client.ts';
import { kafkaClient, withTimeout } from '../kafka/client.ts';
import { OtusError } from '../core/errors.ts';
import { PROTOCOL_VERSION, type KafkaResponse } from './protocol.ts';

export interface RemoteCall {
  connection: KafkaConnection;
  commandTopic: string;
  responseTopic: string;
  target: string;
  command: string;
  payload?: unknown;
  timeoutMs: number;
  /** Per-instance id (OTUS_REMOTE_INSTANCE_ID, else host and pid). */
  instanceId: string;
  requestId?: string;
}

export function instanceIdFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env['OTUS_REMOTE_INSTANCE_ID'] || `${os.hostname()}-${process.pid}`;
}

export class RemoteTimeoutError extends OtusError {
  constructor(msg: string) {
    super(msg, 'REMOTE_TIMEOUT');
  }
}

/** The brokers could not be reached (or refused us) before the command was published: nothing was sent. */
export class RemoteUnreachableError extends OtusError {
  constructor(msg: string) {
    super(msg, 'REMOTE_UNREACHABLE');
  }
}

/** How long closing the Kafka connections may take once the call is over. */
const DISCONNECT_MS = 2000;

/** Sends the command and resolves with its response (several for target "*" are not awaited: the first wins). */
export async function callRemote(c: RemoteCall): Promise<KafkaResponse> {
  if (!c.responseTopic) throw new OtusError('no response topic configured: a remote call needs otus.command_channel.kafka.response_topic');
  const requestId = c.requestId ?? randomUUID();
  const kafka = kafkaClient(c.connection, { clientId: `otus-remote-${c.instanceId}`, requestTimeoutMs: 10_000, retries: 5 });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  const consumer = kafka.consumer({ groupId: `otus-remote-${c.instanceId}`, allowAutoTopicCreation: true });
  const deadline = Date.now() + c.timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  let published = false;
  try {
    // 1. Where otus-responses ends now: the answer comes after this point.
    await withTimeout(admin.connect(), left(), 'connecting to Kafka');
    await admin.createTopics({ topics: [{ topic: c.responseTopic }, { topic: c.commandTopic }], waitForLeaders: true }).catch(() => false);
    const offsets = await withTimeout(admin.fetchTopicOffsets(c.responseTopic), left(), 'reading response offsets');

    // 2. Listen from there.
    let resolveResponse!: (r: KafkaResponse) => void;
    const response = new Promise<KafkaResponse>((r) => (resolveResponse = r));
    let joined!: () => void;
    const groupJoined = new Promise<void>((r) => (joined = r));
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await withTimeout(consumer.connect(), left(), 'connecting to Kafka');
    await consumer.subscribe({ topic: c.responseTopic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        try {
          const r = JSON.parse(message.value?.toString() ?? '') as KafkaResponse;
          if (r.request_id === requestId) resolveResponse(r);
        } catch {
          // not a response of ours
        }
      },
    });
    for (const o of offsets) consumer.seek({ topic: c.responseTopic, partition: o.partition, offset: o.offset });
    await withTimeout(groupJoined, left(), 'joining the response consumer group');

    // 3. Publish, keyed by target so that one node's commands keep their order.
    await withTimeout(producer.connect(), left(), 'connecting to Kafka');
    const cmd = {
      version: PROTOCOL_VERSION,
      target: c.target,
      command: c.command,
      timestamp: new Date().toISOString(),
      request_id: requestId,
      ...(c.payload !== undefined ? { payload: c.payload } : {}),
    };
    await withTimeout(producer.send({ topic: c.commandTopic, messages: [{ key: c.target, value: JSON.stringify(cmd) }] }), left(), 'publishing the command');
    published = true;

    // 4. Wait for the matching answer.
    try {
      return await withTimeout(response, left(), 'waiting for the response');
    } catch {
      throw new RemoteTimeoutError(`no response from ${c.target} to ${c.command} (request_id ${requestId}) within ${Math.round(c.timeoutMs / 1000)} s`);
    }
  } catch (e) {
    if (published || e instanceof OtusError) throw e;
    // Anything before the command left (connect, topic offsets, the group
    // join, the send) is the brokers' side: say which brokers and what failed.
    throw new RemoteUnreachableError(`Kafka at ${c.connection.brokers.join(',')}: ${(e as Error).message}; the command was not sent`);
  } finally {
    await withTimeout(Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]), DISCONNECT_MS, 'disconnecting').catch(() => {});
  }
}
