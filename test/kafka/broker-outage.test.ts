// The broker killed in the middle of a run (ADR-001): the sender never
// blocks its caller, drops are counted at the send buffer and the reporter,
// every record is accounted for, and reporting resumes when the broker is
// back. Real broker, real KafkaReporter, real Sender (live mode).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { globalConfigSchema } from '../../src/config/global-schema.ts';
import type { OutputRecord } from '../../src/core/record.ts';
import { Sender } from '../../src/pipeline/sender.ts';
import { KafkaReporter } from '../../src/plugins/reporter/kafka/kafka-reporter.ts';
import { consumeAll, startBroker, type Broker } from '../helpers/kafka-broker.ts';

let broker: Broker;
before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker?.destroy();
});

function record(phase: string, i: number): OutputRecord {
  return {
    tsSec: 1_700_000_000 + i,
    tsNsec: 0,
    frameNo: i,
    protocol: 'sip',
    flow: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060 + (i % 7), proto: 17 },
    net: { ipVersion: 4, vlans: [], tunnel: null, fragmented: false, ttl: 64 },
    labels: { phase, seq: String(i) },
    payloadJson: JSON.stringify({ i }),
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('broker killed mid-run: no blocking, drops counted, reporting resumes', async () => {
  const global = globalConfigSchema.parse({ otus: { kafka: { brokers: broker.brokers } } });
  const logs: string[] = [];
  const reporter = new KafkaReporter();
  reporter.init(
    { topic: 'otus-outage', send_timeout: '1s', max_retries: 1, batch_size: 100, batch_timeout: '20ms', buffer_capacity: 1000, max_in_flight: 2 },
    { taskId: 'outage', workerIndex: -1, agent: 'edge-outage', log: (level, msg) => logs.push(`${level} ${msg}`), global },
  );
  await reporter.start();
  const sender = new Sender([{ name: 'kafka', reporter }], 2000, 100, false, () => {});
  let enqueued = 0;
  const feed = async (phase: string, n: number) => {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: 50 }, (_, k) => record(phase, i + k));
      // Live mode: enqueue hands back nothing to wait for, whatever the broker does.
      assert.equal(sender.enqueue(batch), undefined);
      enqueued += batch.length;
      await tick();
    }
  };

  await feed('before', 500);
  await until('the first records acknowledged', () => reporter.stats().reported === 500);

  await broker.kill();
  // Keep producing for a while with the broker gone: well past one send timeout.
  const outageEnd = Date.now() + 4000;
  let outageRecords = 0;
  while (Date.now() < outageEnd) {
    await feed('outage', 500);
    outageRecords += 500;
    await new Promise((r) => setTimeout(r, 100));
  }
  const during = reporter.stats();
  const senderDrops = sender.stats()[0]!.bufferDrops;
  assert.ok(during.timeoutDrops + during.errorDrops > 0, `the reporter counted dropped batches: ${JSON.stringify(during)}`);
  assert.ok(senderDrops + during.bufferDrops > 0, `the bounded buffers dropped the oldest: sender ${senderDrops}, reporter ${during.bufferDrops}`);
  assert.ok(logs.some((l) => l.startsWith('warn kafka reporter: dropping records')), 'drops are logged');

  await broker.start();
  const reportedBefore = reporter.stats().reported;
  // Drain what the outage left, then the new records must all get through.
  await until('the reporter to catch up', () => sender.stats()[0]!.queued === 0 && reporter.stats().inFlight === 0 && reporter.stats().buffered === 0, 60_000);
  const base = reporter.stats().reported;
  await feed('after', 300);
  await until('records after the outage acknowledged', () => reporter.stats().reported >= base + 300, 60_000);
  assert.ok(reporter.stats().reported > reportedBefore);
  await sender.drain();
  await reporter.stop();

  // Every record is reported or counted at exactly one layer.
  const s = reporter.stats();
  const sd = sender.stats()[0]!;
  assert.equal(sd.queued, 0);
  assert.equal(s.reported + s.timeoutDrops + s.errorDrops + s.bufferDrops + sd.bufferDrops, enqueued, JSON.stringify({ s, sd, enqueued, outageRecords }));

  const got = await consumeAll(broker.brokers, ['otus-outage'], s.reported, 30_000, 1000);
  const afterSeqs = new Set(got.filter((m) => m.headers['l.phase'] === 'after').map((m) => m.headers['l.seq']));
  assert.equal(afterSeqs.size, 300, 'every record sent after the broker returned is on the topic');
  assert.equal(got.filter((m) => m.headers['l.phase'] === 'before').length, 500);
});
