// The Kafka command channel (DESIGN section 7, ADR-015/026/029): the daemon
// consumes otus-commands in its own consumer group, runs the commands meant
// for its hostname (or "*") through the same method table as the local
// JSON-RPC socket, and answers on otus-responses keyed by its hostname.
//
// Nothing a message contains can stop the consumer: malformed JSON, unknown
// commands and bad payloads get an error response; a method that throws
// gets an error response; a response that cannot be written is logged.
import type { Consumer, KafkaMessage, Producer } from 'kafkajs';
import type { GlobalConfig } from '../config/global-schema.ts';
import { METHOD_NOT_FOUND, type RpcErrorObject } from '../control/jsonrpc.ts';
import { toRpcError } from '../control/rpc-errors.ts';
import type { Method } from '../control/uds-server.ts';
import { kafkaClient, withTimeout } from '../kafka/client.ts';
import type { Log } from '../observe/log-fn.ts';
import { isForMe, parseCommand, PROTOCOL_VERSION, type KafkaResponse } from './protocol.ts';

export interface CommandChannelOptions {
  config: GlobalConfig;
  methods: Record<string, Method>;
  log: Log;
  /** Injected by tests; Date.now otherwise. */
  now?: () => number;
}

export interface CommandChannelStats {
  received: number;
  executed: number;
  ignored_target: number;
  expired: number;
  malformed: number;
  failed: number;
  responses: number;
  response_errors: number;
}

const SEND_TIMEOUT_MS = 5000;

export class CommandChannel {
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private readonly hostname: string;
  private readonly cc: GlobalConfig['otus']['command_channel'];
  private running = false;
  private readonly st: CommandChannelStats = {
    received: 0,
    executed: 0,
    ignored_target: 0,
    expired: 0,
    malformed: 0,
    failed: 0,
    responses: 0,
    response_errors: 0,
  };

  constructor(private readonly o: CommandChannelOptions) {
    this.hostname = o.config.otus.node.hostname;
    this.cc = o.config.otus.command_channel;
  }

  stats(): CommandChannelStats {
    return { ...this.st };
  }

  /**
   * Connects and subscribes. A broker that is down is not fatal for the
   * daemon: kafkajs keeps retrying in the background and the daemon serves
   * its local socket meanwhile.
   */
  async start(): Promise<void> {
    const k = this.cc.kafka;
    const client = kafkaClient(
      { brokers: k.brokers, sasl: k.sasl, tls: k.tls },
      { clientId: `otus-${this.hostname}`, requestTimeoutMs: 10_000, log: this.o.log, retries: 8 },
    );
    this.producer = client.producer({ allowAutoTopicCreation: true, retry: { retries: 2 } });
    this.consumer = client.consumer({
      groupId: k.group_id,
      allowAutoTopicCreation: true,
      retry: { retries: 8 },
    });
    this.running = true;
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.o.log('error', 'command channel: consumer crashed; it restarts', { error: e.payload.error.message, restart: e.payload.restart });
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.o.log('info', 'command channel ready', { topic: k.topic, group_id: k.group_id, brokers: k.brokers });
    });
    void this.connectLoop();
  }

  private async connectLoop(): Promise<void> {
    const k = this.cc.kafka;
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.consumer!.connect();
        // The topic may not exist on a fresh cluster; subscribing needs it.
        const admin = this.consumerAdmin();
        if (admin) {
          await admin.connect();
          await admin.createTopics({ topics: [{ topic: k.topic }], waitForLeaders: true }).catch(() => false);
          await admin.disconnect();
        }
        await this.consumer!.subscribe({ topic: k.topic, fromBeginning: k.auto_offset_reset === 'earliest' });
        await this.consumer!.run({ eachMessage: async ({ message }) => this.onMessage(message) });
        return;
      } catch (e) {
        if (!this.running) return;
        if (attempt === 0 || attempt % 10 === 0) {
          this.o.log('warn', 'command channel: cannot reach Kafka yet; retrying', { brokers: k.brokers, error: (e as Error).message });
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  private consumerAdmin() {
    const k = this.cc.kafka;
    try {
      return kafkaClient({ brokers: k.brokers, sasl: k.sasl, tls: k.tls }, { clientId: `otus-${this.hostname}-admin`, requestTimeoutMs: 10_000, log: this.o.log }).admin();
    } catch {
      return null;
    }
  }

  /** One message: never throws (a throw would make kafkajs re-deliver it forever). */
  private async onMessage(message: KafkaMessage): Promise<void> {
    this.st.received++;
    const parsed = parseCommand(message.value);
    if (!parsed.ok) {
      if (!isForMe(parsed.target, this.hostname)) {
        this.st.ignored_target++;
        return;
      }
      this.st.malformed++;
      this.o.log('warn', 'command channel: malformed command', { request_id: parsed.request_id, offset: message.offset, error: parsed.error.message });
      await this.respond(parsed.command, parsed.request_id, undefined, parsed.error);
      return;
    }
    const cmd = parsed.cmd;
    const ids = { request_id: cmd.request_id, command: cmd.command };
    if (!isForMe(cmd.target, this.hostname)) {
      this.st.ignored_target++;
      this.o.log('debug', 'command channel: command for another node ignored', { ...ids, target: cmd.target });
      return;
    }
    const ageMs = (this.o.now ?? Date.now)() - Date.parse(cmd.timestamp);
    if (ageMs > this.cc.command_ttl * 1000) {
      this.st.expired++;
      this.o.log('warn', 'command channel: command older than command_ttl skipped', { ...ids, timestamp: cmd.timestamp, age_sec: Math.round(ageMs / 1000), command_ttl_sec: this.cc.command_ttl });
      return;
    }
    const method = Object.hasOwn(this.o.methods, cmd.command) ? this.o.methods[cmd.command] : undefined;
    if (!method) {
      this.st.malformed++;
      const known = Object.keys(this.o.methods).sort().join(', ');
      this.o.log('warn', 'command channel: unknown command', ids);
      await this.respond(cmd.command, cmd.request_id, undefined, { code: METHOD_NOT_FOUND, message: `unknown command "${cmd.command}"; known commands: ${known}` });
      return;
    }
    this.o.log('info', 'command channel: executing', ids);
    let result: unknown;
    let error: RpcErrorObject | undefined;
    try {
      result = await method(cmd.payload);
      this.st.executed++;
      this.o.log('info', 'command channel: done', ids);
    } catch (e) {
      this.st.failed++;
      error = toRpcError(e);
      this.o.log('warn', 'command channel: command failed', { ...ids, code: error.code, error: error.message });
    }
    await this.respond(cmd.command, cmd.request_id, result, error);
  }

  private async respond(command: string, requestId: string, result: unknown, error: RpcErrorObject | undefined): Promise<void> {
    const topic = this.cc.kafka.response_topic;
    // ADR-029: no response without a request id, or when responses are disabled.
    if (!requestId || !topic || !this.producer) return;
    const r: KafkaResponse = {
      version: PROTOCOL_VERSION,
      source: this.hostname,
      command,
      request_id: requestId,
      timestamp: new Date().toISOString(),
      ...(error ? { error } : { result: result ?? null }),
    };
    try {
      await withTimeout(this.producer.connect(), SEND_TIMEOUT_MS, 'kafka connect');
      await withTimeout(this.producer.send({ topic, messages: [{ key: this.hostname, value: JSON.stringify(r) }] }), SEND_TIMEOUT_MS, 'kafka send');
      this.st.responses++;
    } catch (e) {
      this.st.response_errors++;
      // The command has run; only its answer is lost (ADR-029).
      this.o.log('error', 'command channel: response not written', { request_id: requestId, command, error: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled([
      this.consumer ? withTimeout(this.consumer.disconnect(), 10_000, 'kafka disconnect') : undefined,
      this.producer ? withTimeout(this.producer.disconnect(), 5000, 'kafka disconnect') : undefined,
    ]);
  }
}
