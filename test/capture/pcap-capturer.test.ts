// The pcap capturer plugin: registration, config validation, lossless
// delivery under backpressure, stop(), stats() and progress().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureFileError, ConfigError, OtusError } from '../../src/core/errors.ts';
import type { RawPacket } from '../../src/core/packet.ts';
import type { CaptureSink } from '../../src/plugin/interfaces.ts';
import { knownPlugins, lookupPlugin } from '../../src/plugin/registry.ts';
import { PcapCapturer } from '../../src/plugins/capture/pcap/index.ts';
import { copyPacket, payload, pcapExpected, pcapFile, pcapRecord, tempDir, writeTemp, type Expected, type PcapRec } from './pcap-build.ts';
import { assertDamage, assertPackets } from './pcap-read-all.ts';

const ctx = { taskId: 't', workerIndex: -1, agent: 'a', log: () => {} };

function records(n: number): PcapRec[] {
  const r: PcapRec[] = [];
  for (let i = 0; i < n; i++) r.push({ sec: 1_700_000_000 + i, frac: i * 3, data: payload(20 + (i % 200), i) });
  return r;
}

/** A sink that refuses packets by a pattern and becomes ready after a short wait, keeping copies of what it accepted. */
class SlowSink implements CaptureSink {
  readonly got: Expected[] = [];
  offers = 0;
  refusals = 0;
  private waiting = false;
  constructor(private readonly refuse: (offer: number) => boolean) {}
  onPacket(pkt: RawPacket): boolean {
    assert.equal(this.waiting, false, 'offered a packet while a ready() wait was pending');
    const n = this.offers++;
    if (this.refuse(n)) {
      this.refusals++;
      return false;
    }
    this.got.push(copyPacket(pkt));
    return true;
  }
  async ready(): Promise<void> {
    this.waiting = true;
    await sleep(1);
    this.waiting = false;
  }
}

async function capturerFor(path: string, bufferSize?: number): Promise<PcapCapturer> {
  const c = new PcapCapturer(bufferSize ? { bufferSize } : {});
  await c.init({ file: path }, ctx);
  return c;
}

test('pcap capturer: registered under "pcap"', () => {
  assert.ok(knownPlugins('capturer').includes('pcap'));
  assert.ok(lookupPlugin('capturer', 'pcap')() instanceof PcapCapturer);
});

test('pcap capturer: config refusals name capture.config.file', async (t) => {
  const dir = tempDir(t);
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no file', {}, /capture\.config\.file: required/],
    ['an empty file name', { file: '' }, /capture\.config\.file: must not be empty/],
    ['a file that is not a string', { file: 3 }, /capture\.config\.file/],
    ['an interface', { file: 'x.pcap', interface: 'eth0' }, /interface/],
    ['a BPF filter', { file: 'x.pcap', bpf_filter: 'udp port 5060' }, /capture\.config\.bpf_filter: BPF filters are not supported when reading a file/],
  ];
  for (const [why, config, re] of refused) {
    await assert.rejects(new PcapCapturer().init(config, ctx), (e: unknown) => e instanceof ConfigError && re.test(e.message), why);
  }
  const e = await new PcapCapturer().init({}, ctx).catch((x: unknown) => x);
  assert.ok(e instanceof ConfigError && e.path === 'capture.config.file', String(e));

  const missing = `${dir}/no-such.pcap`;
  await assert.rejects(
    new PcapCapturer().init({ file: missing }, ctx),
    (x: unknown) => x instanceof OtusError && x.message === `capture file not found: ${missing}`,
  );
  await assert.rejects(new PcapCapturer().init({ file: dir }, ctx), (x: unknown) => x instanceof OtusError && x.message.includes(dir) && /not a regular file/.test(x.message));
  // An empty filter is no filter.
  const ok = writeTemp(dir, 'ok.pcap', pcapFile([]));
  await new PcapCapturer().init({ file: ok, bpf_filter: '' }, ctx);
});

test('pcap capturer: run() without init() is refused', async () => {
  await assert.rejects(new PcapCapturer().run(new SlowSink(() => false)), /init\(\) first/);
});

test('pcap capturer: delivers every packet once, in order, stats and progress', async (t) => {
  const recs = records(500);
  const path = writeTemp(tempDir(t), 'a.pcap', pcapFile(recs));
  const c = await capturerFor(path, 4096);
  assert.equal(c.progress(), 0);
  const sink = new SlowSink(() => false);
  await c.run(sink);
  assertPackets(sink.got, pcapExpected(recs));
  const bytes = recs.reduce((a, r) => a + r.data.length, 0);
  assert.deepEqual(c.stats(), { packets: 500, bytes, kernelDrops: 0, kernelFreezes: 0 });
  assert.equal(c.progress(), 1);
  await c.stop();
});

for (const [name, refuse] of [
  ['every other offer refused', (n: number) => n % 2 === 0],
  ['bursts of refusals', (n: number) => n % 50 < 7],
  ['pseudo-random refusals', (n: number) => ((n * 2654435761) >>> 0) % 3 === 0],
] as const) {
  test(`pcap capturer backpressure (${name}): every packet exactly once, in order`, async (t) => {
    const recs = records(400);
    const path = writeTemp(tempDir(t), 'bp.pcap', pcapFile(recs, { nano: true }));
    // A small buffer, so that refills happen while packets are refused.
    const c = await capturerFor(path, 512);
    const sink = new SlowSink(refuse);
    await c.run(sink);
    assert.ok(sink.refusals > 0);
    assert.equal(sink.offers, 400 + sink.refusals);
    assertPackets(sink.got, pcapExpected(recs, { nano: true }));
    assert.equal(c.stats().packets, 400);
  });
}

test('pcap capturer: a refused packet is offered again with the same bytes, even after a wait', async (t) => {
  const recs = records(50);
  const path = writeTemp(tempDir(t), 'same.pcap', pcapFile(recs));
  const c = await capturerFor(path, 64);
  const seen: string[] = [];
  let refusedOnce = false;
  const sink: CaptureSink = {
    onPacket(pkt) {
      seen.push(Buffer.from(pkt.data).toString('hex'));
      if (!refusedOnce) {
        refusedOnce = true;
        return false;
      }
      refusedOnce = false;
      return true;
    },
    ready: () => sleep(2),
  };
  await c.run(sink);
  assert.equal(seen.length, 100);
  for (let i = 0; i < 50; i++) {
    assert.equal(seen[2 * i], seen[2 * i + 1]);
    assert.equal(seen[2 * i], Buffer.from(recs[i]!.data).toString('hex'));
  }
});

test('pcap capturer: stop() makes run() return after the current packet', async (t) => {
  const recs = records(1000);
  const path = writeTemp(tempDir(t), 'stop.pcap', pcapFile(recs));
  const c = await capturerFor(path, 4096);
  let n = 0;
  const sink: CaptureSink = {
    onPacket() {
      if (++n === 10) void c.stop();
      return true;
    },
    ready: async () => {},
  };
  await c.run(sink);
  assert.equal(n, 10);
  assert.equal(c.stats().packets, 10);
  const p = c.progress();
  assert.ok(p > 0 && p < 1, `progress ${p}`);
});

test('pcap capturer: stop() ends a wait on a sink that never becomes ready', async (t) => {
  const path = writeTemp(tempDir(t), 'stuck.pcap', pcapFile(records(10)));
  const c = await capturerFor(path);
  let offers = 0;
  const sink: CaptureSink = {
    onPacket: () => (++offers === 1 ? true : false),
    ready: () => new Promise<void>(() => {}),
  };
  const run = c.run(sink);
  await sleep(20);
  await c.stop();
  await run;
  assert.equal(c.stats().packets, 1);
});

test('pcap capturer: a damaged file rejects run() with CaptureFileError after the good packets', async (t) => {
  const recs = records(20);
  const good = pcapFile(recs);
  const bad = Buffer.concat([good, pcapRecord({ sec: 1, frac: 1, data: payload(100, 1) }).subarray(0, 50)]);
  const path = writeTemp(tempDir(t), 'bad.pcap', bad);
  const c = await capturerFor(path, 256);
  const sink = new SlowSink((n) => n % 3 === 0);
  const err = await c.run(sink).catch((e: unknown) => e);
  assertDamage(err, path, good.length, /truncated record data \(captured length 100, 34 bytes present\)/);
  assert.ok(err instanceof CaptureFileError);
  assertPackets(sink.got, pcapExpected(recs));
  assert.equal(c.stats().packets, 20);
  assert.ok(c.progress() < 1);
});
