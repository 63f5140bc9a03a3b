// `otus remote <command> --target HOST [--payload FILE]`: runs a command on a
// node through the Kafka command channel and prints its response.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG_PATH, loadGlobalConfig } from '../config/load-global.ts';
import { OtusError } from '../core/errors.ts';
import { callRemote, instanceIdFromEnv, RemoteTimeoutError, RemoteUnreachableError } from '../command/remote-client.ts';

interface RemoteOptions {
  target: string;
  payload?: string;
  config?: string;
  brokers?: string;
  timeout: string;
  requestId?: string;
}

function readPayload(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OtusError(`--payload: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text); // YAML is a superset of JSON: a task file works as is
  } catch (e) {
    throw new OtusError(`--payload: ${file} is not valid YAML/JSON: ${(e as Error).message}`);
  }
}

export async function remoteCommand(command: string, o: RemoteOptions): Promise<number> {
  const configFile = o.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  const { config } = loadGlobalConfig(configFile);
  const k = config.otus.command_channel.kafka;
  const brokers = o.brokers ? o.brokers.split(',').map((b) => b.trim()).filter(Boolean) : k.brokers;
  if (brokers.length === 0) throw new OtusError('no Kafka brokers: give --brokers or set otus.kafka.brokers in the configuration');
  const timeout = Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new OtusError(`--timeout: expected seconds, got "${o.timeout}"`);
  try {
    const r = await callRemote({
      connection: { brokers, sasl: k.sasl, tls: k.tls },
      commandTopic: k.topic,
      responseTopic: k.response_topic,
      target: o.target,
      command,
      payload: o.payload !== undefined ? readPayload(o.payload) : undefined,
      timeoutMs: timeout * 1000,
      instanceId: instanceIdFromEnv(),
      ...(o.requestId ? { requestId: o.requestId } : {}),
    });
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return r.error ? 1 : 0;
  } catch (e) {
    if (e instanceof RemoteTimeoutError) {
      process.stderr.write(`otus: ${e.message}\n`);
      return 3;
    }
    if (e instanceof RemoteUnreachableError) {
      process.stderr.write(`otus: ${e.message}\n`);
      return 4;
    }
    throw e;
  }
}

export function registerRemoteCommand(program: Command): void {
  program
    .command('remote')
    .description('run a command on a node through the Kafka command channel and print its response')
    .argument('<command>', 'task_create, task_delete, task_list, task_status, daemon_status, daemon_stats, config_reload, daemon_shutdown, and the policy_* methods (policy_list, policy_add, ...)')
    .requiredOption('--target <host>', 'the node\'s hostname, or "*"')
    .option('--payload <file>', 'the command\'s payload (YAML or JSON), e.g. a task file for task_create')
    .option('--config <file>', 'global configuration to read Kafka settings from (default /etc/otus/config.yml when present)')
    .option('--brokers <list>', 'comma-separated brokers, overriding the configuration')
    .option('--timeout <seconds>', 'how long to wait for the response', '30')
    .option('--request-id <id>', 'request id to use (default: a random UUID)')
    .action(async (command: string, opts: RemoteOptions) => {
      const code = await remoteCommand(command, opts);
      // kafkajs keeps retrying a connect that was given up on (to a broker
      // that is down) for several seconds after disconnect(); a one-shot
      // client has said all it will say, so it ends now. (stdout and stderr
      // to files and pipes are written synchronously on Linux.)
      process.exit(code);
    });
}
