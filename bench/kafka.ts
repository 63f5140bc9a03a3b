// Records per second delivered (acknowledged, acks=1) to a local broker
// (scripts/kafka.sh), JSON and binary serialization, for each Kafka client
// library tried: kafkajs through the KafkaReporter itself, and node-rdkafka
// (librdkafka) as a peer when a build of it is available (OTUS_BENCH_RDKAFKA
// = path of its package directory; it is not a project dependency).
import { createRequire } from 'node:module';
import { globalConfigSchema } from '../src/config/global-schema.ts';
import { toJsonLine, type OutputRecord } from '../src/core/record.ts';
import { headersFor } from '../src/plugins/reporter/kafka/message.ts';
import { KafkaReporter } from '../src/plugins/reporter/kafka/kafka-reporter.ts';
import { startBroker } from '../test/helpers/kafka-broker.ts';
import type { BenchSection } from './report.ts';

const N = Number(process.env['OTUS_BENCH_KAFKA_RECORDS'] ?? 50_000);
const SIP = Buffer.from('INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\nCall-ID: a84b4c76e66710@10.0.0.1\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n'.repeat(3));

function records(n: number): OutputRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    tsSec: 1_700_000_000 + (i >> 10),
    tsNsec: i,
    frameNo: i,
    protocol: 'sip',
    flow: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060 + (i % 100), proto: 17 },
    net: { ipVersion: 4, vlans: [], tunnel: null, fragmented: false, ttl: 64 },
    labels: { 'sip.method': 'INVITE', 'sip.call-id': `call-${i % 500}` },
    payloadJson: JSON.stringify({ method: 'INVITE', headers: [['Call-ID', `call-${i % 500}`]], body: SIP.toString() }),
    payloadBinary: SIP,
  }));
}

async function kafkajsRun(brokers: string[], serialization: 'json' | 'binary', recs: OutputRecord[]): Promise<number> {
  const global = globalConfigSchema.parse({ otus: { kafka: { brokers } } });
  const r = new KafkaReporter();
  r.init({ topic: `bench-kafkajs-${serialization}`, serialization, batch_size: 1000, batch_timeout: '50ms', max_in_flight: 4 }, { taskId: 'bench', workerIndex: -1, agent: 'bench', log: (l, m, f) => { if (l !== 'debug') console.error(l, m, JSON.stringify(f)); }, global });
  await r.start();
  const t0 = performance.now();
  for (let i = 0; i < recs.length; i += 512) await r.report(recs.slice(i, i + 512));
  await r.stop();
  const s = r.stats();
  if (s.reported !== recs.length) throw new Error(`kafkajs: ${s.reported}/${recs.length} acknowledged (${JSON.stringify(s)})`);
  return recs.length / ((performance.now() - t0) / 1000);
}

interface RdProducer {
  connect(o: unknown, cb: (e: Error | null) => void): void;
  on(ev: string, cb: (...a: unknown[]) => void): void;
  produce(topic: string, partition: null, value: Buffer, key: string, ts: number, opaque: unknown, headers: Record<string, string>[]): void;
  setPollInterval(ms: number): void;
  flush(ms: number, cb: (e: Error | null) => void): void;
  disconnect(cb: () => void): void;
}

async function rdkafkaRun(mod: { Producer: new (c: Record<string, unknown>, t: Record<string, unknown>) => RdProducer }, brokers: string[], serialization: 'json' | 'binary', recs: OutputRecord[]): Promise<number> {
  const p = new mod.Producer({ 'metadata.broker.list': brokers.join(','), dr_cb: true, 'linger.ms': 50, 'batch.num.messages': 1000, 'queue.buffering.max.messages': 200_000 }, { acks: 1 });
  await new Promise<void>((res, rej) => p.connect({}, (e) => (e ? rej(e) : res())));
  let delivered = 0;
  let failed = 0;
  let all!: () => void;
  const done = new Promise<void>((r) => (all = r));
  p.on('delivery-report', (err) => {
    if (err) failed++;
    else delivered++;
    if (delivered + failed === recs.length) all();
  });
  p.setPollInterval(10);
  const topic = `bench-rdkafka-${serialization}`;
  const t0 = performance.now();
  for (const r of recs) {
    const value = serialization === 'binary' ? Buffer.from(r.payloadBinary!) : Buffer.from(toJsonLine(r, 'bench', 'bench'));
    const h = headersFor(r, 'bench', 'bench');
    p.produce(topic, null, value, `${r.flow.proto}:${r.flow.srcIp}:${r.flow.srcPort}-${r.flow.dstIp}:${r.flow.dstPort}`, Date.now(), null, Object.entries(h).map(([k, v]) => ({ [k]: v })));
  }
  await done;
  const rate = recs.length / ((performance.now() - t0) / 1000);
  await new Promise<void>((r) => p.disconnect(() => r()));
  if (failed) throw new Error(`node-rdkafka: ${failed} failed deliveries`);
  return rate;
}

export async function run(): Promise<BenchSection> {
  const broker = await startBroker();
  const rows: BenchSection['rows'] = [];
  const skipped: string[] = [];
  try {
    const recs = records(N);
    // Warm-up: topic creation and JIT, not measured.
    await kafkajsRun(broker.brokers, 'json', recs.slice(0, 2000));
    for (const ser of ['json', 'binary'] as const) {
      rows.push({ name: `kafkajs 2.2.4, ${ser}`, value: await kafkajsRun(broker.brokers, ser, recs), unit: 'records/s', note: `${N} records, KafkaReporter, acks=1, batch 1000, no compression` });
    }
    const dir = process.env['OTUS_BENCH_RDKAFKA'];
    if (dir) {
      const mod = createRequire(import.meta.url)(dir) as Parameters<typeof rdkafkaRun>[0] & { librdkafkaVersion: string };
      await rdkafkaRun(mod, broker.brokers, 'json', recs.slice(0, 2000));
      for (const ser of ['json', 'binary'] as const) {
        rows.push({ name: `node-rdkafka (librdkafka ${mod.librdkafkaVersion}), ${ser}`, value: await rdkafkaRun(mod, broker.brokers, ser, recs), unit: 'records/s', note: `${N} records, raw producer, acks=1, linger 50 ms` });
      }
    } else {
      skipped.push('node-rdkafka: not a project dependency (builds librdkafka from source); set OTUS_BENCH_RDKAFKA to its package directory');
    }
  } finally {
    await broker.destroy();
  }
  return { title: 'Kafka reporter: records/s to a local broker', rows, skipped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatSection } = await import('./report.ts');
  console.log(formatSection(await run()));
}
