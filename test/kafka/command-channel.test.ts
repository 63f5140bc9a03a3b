// The Kafka command channel end to end: a real daemon (bin/otus daemon)
// consuming a real broker, driven by `otus remote` and by raw commands
// published with kafkajs (for the ones a well-behaved caller never sends).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, SAMPLE, setupDaemon, startDaemon, waitFor, type DaemonHandle, type DaemonSetup } from '../daemon/daemon-process.ts';
import { startBroker, testClient, type Broker } from '../helpers/kafka-broker.ts';

const HOST = 'edge-kafka-1';
const CMD_TOPIC = 'otus-commands';
const RESP_TOPIC = 'otus-responses';

let broker: Broker;
let dir: string;
let setup: DaemonSetup;
let daemon: DaemonHandle;

before(async () => {
  broker = await startBroker();
  dir = mkdtempSync(join(tmpdir(), 'otus-cmd-'));
  setup = await setupDaemon(dir, {
    node: { hostname: HOST },
    kafka: { brokers: broker.brokers },
    command_channel: { enabled: true, command_ttl: '5m', kafka: { auto_offset_reset: 'earliest' } },
  });
  daemon = await startDaemon(setup);
  await waitFor('the command channel to join its group', async () => daemon.logLines().some((l) => l['msg'] === 'command channel ready'), 60_000);
});

after(async () => {
  await daemon?.stop();
  await broker?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Response {
  version: string;
  source: string;
  command: string;
  request_id: string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

async function remote(command: string, extra: string[] = [], target = HOST): Promise<{ code: number | null; r: Response; stderr: string }> {
  const res = await runCli(['remote', command, '--target', target, '--config', setup.configFile, '--timeout', '30', ...extra]);
  assert.ok(res.stdout.trim().startsWith('{'), `otus remote ${command} printed a response (exit ${res.code}): ${res.stderr}`);
  return { code: res.code, r: JSON.parse(res.stdout) as Response, stderr: res.stderr };
}

test('every command round-trips through otus remote', async () => {
  const st = await remote('daemon_status');
  assert.equal(st.code, 0);
  assert.equal(st.r.source, HOST);
  assert.equal(st.r.command, 'daemon_status');
  assert.equal((st.r.result!['node'] as { hostname: string }).hostname, HOST);

  const stats = await remote('daemon_stats');
  assert.equal(stats.code, 0);
  assert.ok('process' in stats.r.result!);

  const out = join(dir, 'remote-task.jsonl');
  const taskFile = join(dir, 'task.json');
  writeFileSync(taskFile, JSON.stringify({ id: 'remote-1', workers: 1, capture: { name: 'pcap', file: SAMPLE }, parsers: [{ name: 'sip' }], reporters: [{ name: 'file', config: { path: out } }] }));
  const created = await remote('task_create', ['--payload', taskFile]);
  assert.equal(created.code, 0, JSON.stringify(created.r));
  assert.equal(created.r.result!['id'], 'remote-1');

  const list = await remote('task_list');
  assert.deepEqual((list.r.result!['tasks'] as { id: string }[]).map((t) => t.id), ['remote-1']);

  const idFile = join(dir, 'id.json');
  writeFileSync(idFile, JSON.stringify({ id: 'remote-1' }));
  const status = await remote('task_status', ['--payload', idFile]);
  assert.equal(status.code, 0);
  assert.equal(status.r.result!['id'], 'remote-1');

  const del = await remote('task_delete', ['--payload', idFile]);
  assert.equal(del.code, 0, JSON.stringify(del.r));

  const missing = await remote('task_status', ['--payload', idFile]);
  assert.equal(missing.code, 1, 'a deleted task is an error response');
  assert.equal(typeof missing.r.error!.code, 'number');

  const reload = await remote('config_reload');
  assert.equal(reload.code, 0);
  assert.ok('changed' in reload.r.result!);

  // The policy dataplane's methods ride the same channel (issue 8: JSON-RPC, CLI and Kafka).
  const pstats = await remote('policy_stats');
  assert.equal(pstats.code, 0, JSON.stringify(pstats.r));
  assert.equal(pstats.r.command, 'policy_stats');
  assert.ok('loaded' in pstats.r.result!);
  const ruleFile = join(dir, 'bad-rule.json');
  writeFileSync(ruleFile, JSON.stringify({ rule: { id: 'r1', action: 'deny', src: '10.0.0.0/33' } }));
  const badRule = await remote('policy_add', ['--payload', ruleFile]);
  assert.equal(badRule.code, 1, 'a bad rule is an error response');
  assert.equal(badRule.r.error!.code, -32602);
  assert.match(badRule.r.error!.message, /rule\.src/);
});

test('errors: unknown command, bad payload and malformed JSON get a code and a message; the consumer goes on', async () => {
  const unknown = await remote('task_explode');
  assert.equal(unknown.code, 1);
  assert.equal(unknown.r.error!.code, -32601);
  assert.match(unknown.r.error!.message, /unknown command "task_explode"/);

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ id: 'x', capture: { name: 'pcap' } }));
  const badTask = await remote('task_create', ['--payload', bad]);
  assert.equal(badTask.r.error!.code, -32602);
  assert.match(badTask.r.error!.message, /reporters/);

  // Raw messages no remote client would send, then a valid one: responses in order prove the consumer carried on.
  const kafka = testClient(broker.brokers);
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `resp-${Date.now()}` });
  const seen: Response[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: RESP_TOPIC, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(JSON.parse(message.value!.toString()) as Response) });
  await producer.connect();
  const now = new Date().toISOString();
  const old = new Date(Date.now() - 10 * 60_000).toISOString();
  const raw = [
    '{"target":"edge-kafka-1","command":"daemon_status","request_id":"req-trunc","timest', // malformed JSON
    JSON.stringify({ target: HOST, command: 'daemon_status', timestamp: 'yesterday', request_id: 'req-badts' }),
    JSON.stringify({ target: 'some-other-node', command: 'daemon_status', timestamp: now, request_id: 'req-other' }),
    JSON.stringify({ target: HOST, command: 'daemon_status', timestamp: old, request_id: 'req-expired' }),
    JSON.stringify({ target: HOST, command: 'daemon_status', timestamp: now, request_id: '' }),
    JSON.stringify({ target: '*', command: 'daemon_status', timestamp: now, request_id: 'req-star' }),
  ];
  await producer.send({ topic: CMD_TOPIC, messages: raw.map((value) => ({ key: HOST, value })) });
  await waitFor('the response to the "*" command', async () => seen.some((r) => r.request_id === 'req-star'), 30_000);
  await producer.disconnect();
  await consumer.disconnect();

  const byId = new Map(seen.map((r) => [r.request_id, r]));
  assert.equal(byId.get('req-trunc')?.error?.code, -32700, 'malformed JSON: parse error response');
  assert.match(byId.get('req-trunc')!.error!.message, /not valid JSON/);
  assert.equal(byId.get('req-badts')?.error?.code, -32600, 'bad timestamp: invalid request response');
  assert.match(byId.get('req-badts')!.error!.message, /timestamp/);
  assert.equal(byId.get('req-star')?.source, HOST, 'target "*" is for every node');
  // Processed in order before req-star, and never answered:
  assert.equal(byId.has('req-other'), false, 'a command for another target is ignored');
  assert.equal(byId.has('req-expired'), false, 'an expired command is ignored');
  assert.equal(seen.filter((r) => r.request_id === '').length, 0, 'no response without a request_id');
  for (const r of seen) assert.equal(r.source, HOST);

  const logs = daemon.logLines();
  const expired = logs.find((l) => l['request_id'] === 'req-expired');
  assert.ok(expired && expired['level'] === 'warn' && /command_ttl/.test(String(expired['msg'])), 'the expired command is logged as a warning with its request_id');
  const handled = logs.filter((l) => l['request_id'] === 'req-star').map((l) => l['msg']);
  assert.deepEqual(handled, ['command channel: executing', 'command channel: done'], 'every log line of a command carries its request_id');

  // Still serving.
  const st = await remote('daemon_status');
  assert.equal(st.code, 0);
});

test('a remote call to a node that does not answer times out with exit code 3', async () => {
  const res = await runCli(['remote', 'daemon_status', '--target', 'nobody-here', '--config', setup.configFile, '--timeout', '3']);
  assert.equal(res.code, 3);
  assert.match(res.stderr, /no response from nobody-here/);
});

test('a remote call to brokers that are not there exits 4 with one line naming them, and without waiting on', async () => {
  // A port nothing listens on: the broker above is on another.
  const res = await runCli(['remote', 'daemon_status', '--target', HOST, '--config', setup.configFile, '--brokers', '127.0.0.1:9', '--timeout', '3']);
  assert.equal(res.code, 4, res.stderr);
  assert.equal(res.stdout, '');
  assert.match(res.stderr, /^otus: Kafka at 127\.0\.0\.1:9: .+; the command was not sent\n$/);
  assert.doesNotMatch(res.stderr, /internal error|\n\s+at /);
});

test('daemon_shutdown through the channel answers, then the daemon stops', async () => {
  const r = await remote('daemon_shutdown');
  assert.equal(r.code, 0);
  assert.deepEqual(r.r.result, { stopping: true });
  const exit = await daemon.exited;
  assert.equal(exit.code, 0);
});
