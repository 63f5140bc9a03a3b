// Logging outputs (rotation, Loki, text), metrics and the pid file, each on
// its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PidFile } from '../../src/daemon/pid-file.ts';
import { diffConfig, needsRestart } from '../../src/daemon/config-diff.ts';
import { globalConfigSchema } from '../../src/config/global-schema.ts';
import { Logging } from '../../src/observe/logging.ts';
import { LokiPusher, pushUrlOf } from '../../src/observe/loki.ts';
import { createMetricsRegistry } from '../../src/observe/metrics.ts';
import { parseListen } from '../../src/observe/metrics-server.ts';
import { RotatingLogFile } from '../../src/observe/rotating-file.ts';
import { jsonLineToText } from '../../src/observe/text-format.ts';
import { fakeSummary, until } from './fake-runner.ts';
import { LokiReceiver } from './loki-receiver.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'otus-obs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('log file rotation', () => {
  it('rotates by size, compresses with gzip, keeps max_backups, drops backups older than max_age_days', async () => {
    const path = join(dir, 'logs', 'otus.log');
    // A backup from long ago: the age limit removes it at the first pruning.
    mkdirSync(join(dir, 'logs'));
    const ancient = join(dir, 'logs', 'otus-2020-01-01T00-00-00.000Z.log.gz');
    writeFileSync(ancient, '');
    utimesSync(ancient, new Date('2020-01-01'), new Date('2020-01-01'));

    const errors: Error[] = [];
    const f = new RotatingLogFile({ path, maxSizeBytes: 1000, maxBackups: 3, maxAgeDays: 7, compress: true, onError: (e) => errors.push(e) });
    const line = (i: number) => JSON.stringify({ i, msg: 'x'.repeat(180) }) + '\n';
    for (let i = 0; i < 60; i++) {
      f.write(line(i));
      await new Promise((r) => setImmediate(r));
    }
    await f.close();
    await f.settled();
    assert.deepEqual(errors, []);
    const backups = await f.backups();
    assert.equal(backups.length, 3, `max_backups keeps three: ${readdirSync(join(dir, 'logs')).join(' ')}`);
    assert.ok(!existsSync(ancient), 'a backup older than max_age_days is removed');
    for (const b of backups) {
      assert.match(b, /otus-\d{4}-\d\d-\d\dT[\d-]+\.\d+Z(-\d+)?\.log\.gz$/);
      const text = gunzipSync(readFileSync(b)).toString('utf8');
      assert.ok(text.length > 0 && text.length <= 1000 + 200, `a backup holds about max size: ${text.length}`);
      assert.ok(text.endsWith('\n'), 'lines are never split across files');
    }
    const newest = readFileSync(path, 'utf8') + gunzipSync(readFileSync(backups.at(-1)!)).toString('utf8');
    assert.match(newest, /"i":59/, 'the newest line is in the current file or the newest backup');
  });

  it('keeps every backup when max_backups is 0, uncompressed when compress is off', async () => {
    const path = join(dir, 'plain.log');
    const f = new RotatingLogFile({ path, maxSizeBytes: 200, maxBackups: 0, maxAgeDays: 0, compress: false, onError: () => {} });
    for (let i = 0; i < 10; i++) {
      f.write('y'.repeat(150) + '\n');
      await new Promise((r) => setImmediate(r));
    }
    await f.close();
    const backups = await f.backups();
    assert.equal(backups.length, 5, 'two lines a file, every backup kept');
    assert.ok(backups.every((b) => b.endsWith('.log')));
  });
});

describe('Loki push', () => {
  let loki: LokiReceiver;
  let url: string;
  beforeEach(async () => {
    loki = new LokiReceiver();
    url = await loki.start();
  });
  afterEach(() => loki.stop());

  it('completes the push path and batches by size and by timeout, with static labels and the level', async () => {
    assert.equal(pushUrlOf('http://loki:3100'), 'http://loki:3100/loki/api/v1/push');
    assert.equal(pushUrlOf('http://loki:3100/custom/push'), 'http://loki:3100/custom/push');
    const p = new LokiPusher({ endpoint: url, labels: { job: 'otus', env: 'test' }, batchSize: 5, batchTimeoutMs: 300 });
    for (let i = 0; i < 5; i++) p.push(JSON.stringify({ level: 'info', msg: `m${i}` }) + '\n');
    await until(() => loki.pushes.length === 1, 2000, 'a full batch sent at once');
    assert.equal(loki.paths[0], '/loki/api/v1/push');
    p.push(JSON.stringify({ level: 'error', msg: 'late' }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(loki.pushes.length, 1, 'a partial batch waits for batch_timeout');
    await until(() => loki.pushes.length === 2, 2000, 'the timeout flush');
    const lines = loki.lines();
    assert.equal(lines.length, 6);
    assert.deepEqual(lines[0]!.labels, { job: 'otus', env: 'test', level: 'info' });
    assert.deepEqual(lines[5]!.labels, { job: 'otus', env: 'test', level: 'error' });
    assert.equal(JSON.parse(lines[5]!.line).msg, 'late');
    assert.match(loki.pushes[0]!.streams[0]!.values[0]![0], /^\d{19}$/, 'nanosecond timestamps as strings');
    await p.close();
    assert.deepEqual({ ...p.stats(), buffered: 0 }, { sent: 6, dropped: 0, buffered: 0, failedPushes: 0 });
  });

  it('holds a bounded buffer while Loki fails, drops the oldest, and delivers the rest once it is back', async () => {
    loki.status = 503;
    const p = new LokiPusher({ endpoint: url, labels: {}, batchSize: 10, batchTimeoutMs: 20, maxBuffered: 50 });
    for (let i = 0; i < 80; i++) p.push(JSON.stringify({ level: 'info', msg: `n${i}` }));
    await until(() => p.stats().failedPushes >= 1, 2000, 'a failed push');
    assert.ok(p.stats().dropped >= 30, `the oldest beyond 50 are dropped: ${JSON.stringify(p.stats())}`);
    loki.status = 204;
    await until(() => p.stats().sent + p.stats().dropped === 80, 5000, 'the backlog delivered after backoff');
    const got = loki.lines().map((l) => JSON.parse(l.line).msg as string);
    assert.equal(got.at(-1), 'n79', 'the newest lines survive');
    assert.equal(got.length + p.stats().dropped, 80, 'every line is either delivered or counted as dropped');
    await p.close();
  });

  it('never holds the daemon: close gives up on an unreachable Loki', async () => {
    await loki.stop();
    const p = new LokiPusher({ endpoint: url, labels: {}, batchSize: 100, batchTimeoutMs: 10_000, requestTimeoutMs: 500 });
    p.push('{"level":"info","msg":"lost"}');
    const t0 = Date.now();
    await p.close(1000);
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(p.stats().dropped, 1);
  });
});

describe('logging', () => {
  it('writes pino JSON to a file, text when asked, and changes level at once', async () => {
    const cfg = globalConfigSchema.parse({}).otus.log;
    cfg.outputs.stdout.enabled = false;
    cfg.outputs.file.enabled = true;
    cfg.outputs.file.path = join(dir, 'd.log');
    const l = new Logging(cfg, { hostname: 'edge-01', inContainer: false });
    l.log('debug', 'hidden');
    l.log('info', 'shown', { task: 't1' });
    await l.reconfigure({ ...cfg, level: 'debug' });
    l.log('debug', 'now visible');
    await l.reconfigure({ ...cfg, level: 'debug', format: 'text', outputs: { ...cfg.outputs, file: { ...cfg.outputs.file, path: join(dir, 't.log') } } });
    l.log('warn', 'as text', { n: 1 });
    await l.close();
    const json = readFileSync(join(dir, 'd.log'), 'utf8').trim().split('\n').map((x) => JSON.parse(x) as Record<string, unknown>);
    assert.deepEqual(json.map((j) => j['msg']), ['shown', 'now visible']);
    assert.equal(json[0]!['level'], 'info');
    assert.equal(json[0]!['task'], 't1');
    assert.equal(json[0]!['hostname'], 'edge-01');
    assert.match(String(json[0]!['time']), /^\d{4}-\d\d-\d\dT/);
    assert.match(readFileSync(join(dir, 't.log'), 'utf8'), /^\S+Z WARN {2}as text n=1\n$/);
  });

  it('formats text lines', () => {
    assert.equal(jsonLineToText('{"level":"info","time":"T","pid":1,"hostname":"h","msg":"hi","a":"b c","n":2}'), 'T INFO  hi a="b c" n=2\n');
    assert.equal(jsonLineToText('not json'), 'not json\n');
  });
});

describe('metrics', () => {
  it('exposes the DESIGN section 6 names with task, pipeline, parser and reporter labels', async () => {
    const reg = createMetricsRegistry({
      tasks: () => [{ id: 'voip', state: 'running', restartCount: 1, summary: fakeSummary('voip', 1234) }],
      lokiDropped: () => 3,
      version: '9.9.9',
    });
    const text = await reg.metrics();
    const expect = [
      'otus_packets_captured_total{task="voip"} 1234',
      'otus_bytes_captured_total{task="voip"} 123400',
      'otus_capture_kernel_drops_total{task="voip"} 0',
      'otus_pipeline_channel_drops_total{task="voip"} 2',
      'otus_pipeline_channel_usage_ratio{task="voip",pipeline="0"} 0.25',
      'otus_packets_parsed_total{task="voip",parser="sip"} 6',
      'otus_packets_parsed_total{task="voip",parser="rtp"} 7',
      'otus_packets_reported_total{task="voip",reporter="file"} 1234',
      'otus_sender_buffer_drops_total{task="voip",reporter="file"} 8',
      'otus_sender_buffer_usage_ratio{task="voip",reporter="file"} 0.5',
      'otus_reporter_timeout_drops_total{task="voip",reporter="file"} 9',
      'otus_reporter_error_drops_total{task="voip",reporter="file"} 10',
      'otus_reporter_buffer_drops_total{task="voip",reporter="kafka"} 11',
      'otus_reporter_skipped_total{task="voip",reporter="hep"} 12',
      'otus_decode_errors_total{task="voip",reason="truncated"} 5',
      'otus_task_restarts_total{task="voip"} 1',
      'otus_task_state{task="voip",state="running"} 1',
      'otus_log_loki_dropped_total 3',
      'otus_build_info{version="9.9.9"} 1',
      '# TYPE otus_packets_captured_total counter',
      'process_resident_memory_bytes',
    ];
    for (const e of expect) assert.ok(text.includes(e), `missing: ${e}`);
  });

  it('adds up the counters of two reporters of one kind and keeps the higher level', async () => {
    const s = fakeSummary('two-files', 10);
    s.sender = [
      { name: 'file', queued: 0, usage: 0.875, bufferDrops: 3, sent: 10 },
      { name: 'file', queued: 0, usage: 0.5, bufferDrops: 8, sent: 10 },
    ];
    s.reporters = [
      { name: 'file', reported: 10, timeoutDrops: 1, errorDrops: 0 },
      { name: 'file', reported: 7, timeoutDrops: 2, errorDrops: 0 },
    ];
    const reg = createMetricsRegistry({ tasks: () => [{ id: 'two-files', state: 'running', restartCount: 0, summary: s }], lokiDropped: () => 0, version: 'x' });
    const text = await reg.metrics();
    for (const e of [
      'otus_sender_buffer_usage_ratio{task="two-files",reporter="file"} 0.875',
      'otus_sender_buffer_drops_total{task="two-files",reporter="file"} 11',
      'otus_packets_reported_total{task="two-files",reporter="file"} 17',
      'otus_reporter_timeout_drops_total{task="two-files",reporter="file"} 3',
    ]) assert.ok(text.includes(e), `missing: ${e}\n${text.split('\n').filter((l) => l.includes('two-files')).join('\n')}`);
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:9091'), { host: '127.0.0.1', port: 9091 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen(':9091'), { host: '0.0.0.0', port: 9091 });
    assert.throws(() => parseListen('9091'), /host:port/);
  });
});

describe('pid file', () => {
  it('replaces a stale pid file and refuses one naming a live process', async () => {
    const path = join(dir, 'run', 'otus.pid');
    mkdirSync(join(dir, 'run'));
    // A pid that certainly is dead: a child that already exited.
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.once('exit', r));
    writeFileSync(path, `${child.pid}\n`);
    const p = new PidFile(path);
    await p.acquire();
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);

    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      writeFileSync(path, `${live.pid}\n`);
      await assert.rejects(new PidFile(path).acquire(), /another otus daemon \(pid \d+\) is running/);
    } finally {
      live.kill('SIGKILL');
    }
    writeFileSync(path, `${process.pid}\n`);
    await p.release();
    assert.ok(!existsSync(path));
  });
});

describe('reload diff', () => {
  it('names what changed and what needs a restart', () => {
    const a = globalConfigSchema.parse({});
    const b = globalConfigSchema.parse({ otus: { log: { level: 'debug' }, metrics: { listen: '0.0.0.0:1' }, node: { tags: { dc: 'x' } } } });
    const changed = diffConfig(a, b);
    assert.deepEqual(changed.sort(), ['otus.log.level', 'otus.metrics.listen', 'otus.node.tags']);
    assert.deepEqual(changed.filter(needsRestart), ['otus.metrics.listen']);
  });
});
