// The Kafka reporter against a real broker (scripts/kafka.sh): a task over
// the sample capture writes to a file reporter and a Kafka reporter at once;
// the topic must hold exactly the file's records (count, keys, headers,
// values). tshark is the oracle for the binary values.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { consumeAll, ROOT, startBroker, type Broker, type Consumed } from '../helpers/kafka-broker.ts';

const run = promisify(execFile);
const OTUS = join(ROOT, 'bin/otus');
const SAMPLE = join(ROOT, 'samples/sip-call.pcap');

let broker: Broker;
let dir: string;

before(async () => {
  broker = await startBroker();
  dir = mkdtempSync(join(tmpdir(), 'otus-kafka-rep-'));
});
after(async () => {
  await broker?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface FileRecord {
  frame: number;
  protocol: string;
  ts: string;
  task: string;
  agent: string;
  flow: { src_ip: string; dst_ip: string; src_port: number; dst_port: number; proto: number };
  labels: Record<string, string>;
}

/** Runs `otus run` with a file reporter and a Kafka reporter; returns the file's lines. */
async function runTask(name: string, kafkaConfig: Record<string, unknown>): Promise<string[]> {
  const cfg = join(dir, `${name}-config.yml`);
  writeFileSync(cfg, `otus:\n  node: { hostname: kafka-test-node, ip: 127.0.0.1 }\n  kafka: { brokers: [${broker.brokers[0]}] }\n`);
  const out = join(dir, `${name}.jsonl`);
  const task = join(dir, `${name}-task.json`);
  writeFileSync(
    task,
    JSON.stringify({
      id: name,
      workers: 2,
      capture: { name: 'pcap', file: SAMPLE },
      parsers: [{ name: 'sip' }, { name: 'rtcp' }, { name: 'rtp' }, { name: 'dns' }],
      reporters: [
        { name: 'file', config: { path: out } },
        { name: 'kafka', config: kafkaConfig },
      ],
    }),
  );
  const { stderr } = await run(OTUS, ['run', '--config', cfg, '--task', task, '--no-progress'], { env: { ...process.env, CI: 'true' }, timeout: 120_000 });
  // What an operator reads: the summary, no runtime warnings (kafkajs's negative timer, kafkajs#1751, is silenced by bin/otus).
  assert.doesNotMatch(stderr, /Warning/, stderr);
  return readFileSync(out, 'utf8').trim().split('\n');
}

function expectedKey(r: FileRecord): string {
  const f = r.flow;
  return `${f.proto}:${f.src_ip}:${f.src_port}-${f.dst_ip}:${f.dst_port}`;
}

function expectedHeaders(r: FileRecord): Record<string, string> {
  const h: Record<string, string> = {
    task_id: r.task,
    agent_id: r.agent,
    payload_type: r.protocol,
    src_ip: r.flow.src_ip,
    dst_ip: r.flow.dst_ip,
    timestamp: r.ts,
  };
  for (const [k, v] of Object.entries(r.labels)) h[`l.${k}`] = v;
  return h;
}

const sortedJson = (o: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));

/** Multiset comparison: the same entries, each as often. */
function assertSameMultiset(actual: string[], expected: string[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: count`);
  assert.deepEqual([...actual].sort(), [...expected].sort(), what);
}

async function udpPayloads(): Promise<Map<number, string>> {
  const { stdout } = await run('tshark', ['-r', SAMPLE, '-T', 'fields', '-e', 'frame.number', '-e', 'udp.payload'], { maxBuffer: 64 << 20 });
  const m = new Map<number, string>();
  for (const line of stdout.trim().split('\n')) {
    const [n, hex] = line.split('\t');
    m.set(Number(n), (hex ?? '').replace(/:/g, '').toLowerCase());
  }
  return m;
}

test('serialization json, fixed topic: the topic holds exactly the file reporter\'s records', async () => {
  const lines = await runTask('json-run', { topic: 'otus-json-test', serialization: 'json', compression: 'gzip', batch_size: 50 });
  const records = lines.map((l) => JSON.parse(l) as FileRecord);
  assert.ok(records.length > 200, `the sample yields records (${records.length})`);
  const got = await consumeAll(broker.brokers, ['otus-json-test'], records.length);
  assert.equal(got.length, records.length, 'message count = file record count');
  assertSameMultiset(got.map((m) => m.value.toString()), lines, 'values are the file\'s JSON lines');
  const row = (key: string, h: Record<string, string>, v: string) => `${key}|${sortedJson(h)}|${v}`;
  assertSameMultiset(
    got.map((m) => row(m.key, m.headers, m.value.toString())),
    records.map((r, i) => row(expectedKey(r), expectedHeaders(r), lines[i]!)),
    'each message: key = flow id, headers = envelope + l.<labels>, value = its record',
  );
});

test('serialization binary, topic_prefix routing: payload bytes per type topic, as tshark sees them', async () => {
  const lines = await runTask('bin-run', { topic_prefix: 'otusbin', serialization: 'binary', compression: 'zstd', batch_size: 64 });
  const records = lines.map((l) => JSON.parse(l) as FileRecord);
  const types = [...new Set(records.map((r) => r.protocol))].sort();
  assert.deepEqual(types, ['dns', 'rtcp', 'rtp', 'sip']);
  const got: Consumed[] = await consumeAll(broker.brokers, types.map((t) => `otusbin-${t}`), records.length);
  assert.equal(got.length, records.length);
  const payloads = await udpPayloads();
  const row = (topic: string, key: string, h: Record<string, string>, hex: string) => `${topic}|${key}|${sortedJson(h)}|${hex}`;
  assertSameMultiset(
    got.map((m) => row(m.topic, m.key, m.headers, m.value.toString('hex'))),
    records.map((r) => row(`otusbin-${r.protocol}`, expectedKey(r), expectedHeaders(r), payloads.get(r.frame)!)),
    'topic by payload type, key, headers, and value = the UDP payload tshark shows for that frame',
  );
});

test('every compression codec round-trips through the broker', async () => {
  for (const compression of ['none', 'snappy', 'lz4']) {
    const topic = `otus-codec-${compression}`;
    const lines = await runTask(`codec-${compression}`, { topic, compression, batch_size: 100 });
    const got = await consumeAll(broker.brokers, [topic], lines.length, 30_000, 300);
    assertSameMultiset(got.map((m) => m.value.toString()), lines, `${compression}: values`);
  }
});
