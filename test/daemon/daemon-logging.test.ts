// The daemon's logs end to end: SIGHUP changes the level at once without
// touching the running task, lines reach a Loki receiver and a log file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { fileTask, setupDaemon, startDaemon, stopDraining, taskStatus, waitFor, writeLongCapture } from './daemon-process.ts';
import { LokiReceiver } from './loki-receiver.ts';
import { call, exchange } from './rpc-client.ts';
import { makeFifo, SlowConsumer } from './slow-consumer.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-log-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('daemon logging', () => {
  it('applies a new log level on SIGHUP without restarting the task', async () => {
    const long = join(root, 'long.pcap');
    writeLongCapture(long, 200);
    const s = await setupDaemon(join(root, 'hup'));
    const fifo = makeFifo(join(root, 'hup', 'out.fifo'));
    const reader = new SlowConsumer(fifo);
    const d = await startDaemon(s);
    try {
      assert.ok((await call(s.socket, 'task_create', fileTask('steady', long, fifo))).result);
      await reader.readFor(100);
      const before = await waitFor('the task running with figures', async () => {
        const st = await taskStatus(s.socket, 'steady');
        return (st.counters as { packets_captured: number } | null)?.packets_captured ? st : null;
      });
      await call(s.socket, 'task_list');
      assert.doesNotMatch(d.output(), /"level":"debug"/, 'nothing below info yet');

      const cfg = parse(readFileSync(s.configFile, 'utf8')) as { otus: { log: { level: string } } };
      cfg.otus.log.level = 'debug';
      writeFileSync(s.configFile, stringify(cfg));
      d.proc.kill('SIGHUP');
      await waitFor('the reload', async () => /"msg":"configuration reloaded"/.test(d.output()));
      assert.match(d.output(), /"changed":\["otus\.log\.level"\]/);

      await call(s.socket, 'task_list');
      await waitFor('a debug line', async () => /"level":"debug".*"method":"task_list"/.test(d.output()));

      const after = await taskStatus(s.socket, 'steady');
      assert.equal(after.state, 'running');
      assert.equal(after.restart_count, before.restart_count);
      assert.equal(after['started_at'], before['started_at'], 'the same run, not a restart');
      const n0 = (before.counters as { packets_captured: number }).packets_captured;
      assert.ok((after.counters as { packets_captured: number }).packets_captured >= n0, 'its counters carried on');
      const status = (await call(s.socket, 'daemon_status')).result as { log_level: string };
      assert.equal(status.log_level, 'debug');

      // A broken file is refused and the running configuration stays.
      writeFileSync(s.configFile, 'otus: { log: { level: loud } }\n');
      const r = await call(s.socket, 'config_reload');
      assert.equal(r.error?.code, -32006);
      assert.match(r.error!.message, /log\.level/);
      assert.equal(((await call(s.socket, 'daemon_status')).result as { log_level: string }).log_level, 'debug');
      assert.equal((await taskStatus(s.socket, 'steady')).state, 'running');
    } finally {
      await stopDraining(d, reader);
      reader.close();
    }
  });

  it('pushes its log lines to Loki and writes them to a file', async () => {
    const loki = new LokiReceiver();
    const url = await loki.start();
    const logFile = join(root, 'loki', 'log', 'otus.log');
    const s = await setupDaemon(join(root, 'loki'), {
      log: {
        outputs: {
          file: { enabled: true, path: logFile, rotation: { max_size_mb: 1, max_backups: 2, max_age_days: 1, compress: true } },
          loki: { enabled: true, endpoint: url, labels: { env: 'e2e' }, batch_size: 5, batch_timeout: '200ms' },
        },
      },
    });
    try {
      const d = await startDaemon(s);
      try {
        const started = await waitFor('the start line in Loki', async () => loki.lines().find((l) => /"msg":"daemon started"/.test(l.line)));
        assert.deepEqual(started.labels, { job: 'otus', host: 'edge-test', env: 'e2e', level: 'info' });
        assert.equal((JSON.parse(started.line) as { node_ip: string }).node_ip, '127.0.0.1');
        assert.equal(loki.paths[0], '/loki/api/v1/push');
        // batch_size 5: no push carries more; the few start lines went out on the 200 ms batch_timeout.
        for (const p of loki.pushes) assert.ok(p.streams.reduce((n, st) => n + st.values.length, 0) <= 5);
      } finally {
        await d.stop();
      }
    } finally {
      await loki.stop();
    }
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    assert.ok(lines.some((l) => l.msg === 'daemon started'));
    assert.equal(lines.at(-1)!.msg, 'daemon stopped', 'the file is flushed at shutdown');
  });

  it('rotates its log file by max_size_mb, gzips, keeps max_backups, ages out by max_age_days', async () => {
    const logDir = join(root, 'rot', 'log');
    mkdirSync(logDir, { recursive: true });
    // A backup left from long ago: max_age_days removes it as soon as the file output opens.
    const ancient = join(logDir, 'otus-2020-01-01T00-00-00.000Z.log.gz');
    writeFileSync(ancient, '');
    utimesSync(ancient, new Date('2020-01-01'), new Date('2020-01-01'));
    const logFile = join(logDir, 'otus.log');
    const s = await setupDaemon(join(root, 'rot'), {
      log: {
        level: 'debug',
        outputs: { stdout: { enabled: false }, file: { enabled: true, path: logFile, rotation: { max_size_mb: 1, max_backups: 2, max_age_days: 7, compress: true } } },
      },
    });
    const d = await startDaemon(s);
    const MB = 1 << 20;
    try {
      await waitFor('the old backup aged out', async () => !existsSync(ancient));
      // Every task_status for an unknown id logs one debug line naming it: ~1 KB a line, ~4.5 MB in all.
      const id = (i: number) => `ghost-${i}-${'x'.repeat(900)}`;
      let n = 0;
      for (let batch = 0; batch < 9; batch++) {
        const reqs = Array.from({ length: 500 }, () => ({ jsonrpc: '2.0', id: n, method: 'task_status', params: { id: id(n++) } }));
        const r = await exchange(s.socket, JSON.stringify(reqs) + '\n', { expect: 1, ms: 30_000 });
        assert.equal((r.lines[0] as unknown[]).length, 500, 'the batch was answered');
      }
      const backupsOf = () => readdirSync(logDir).filter((f) => f !== 'otus.log').sort();
      const last = `no task \\"ghost-${n - 1}-`;
      await waitFor('the last line written, rotations and pruning settled', async () => readFileSync(logFile, 'utf8').includes(last) && backupsOf().length === 2 && statSync(logFile).size < MB);
      const backups = backupsOf();
      const seen = new Set<number>();
      for (const b of backups) {
        assert.match(b, /^otus-\d{4}-\d\d-\d\dT[\d-]+\.\d+Z(-\d+)?\.log\.gz$/);
        const text = gunzipSync(readFileSync(join(logDir, b))).toString('utf8');
        assert.ok(text.length > MB - 4096 && text.length <= MB + 4096, `a backup holds about max_size_mb: ${text.length}`);
        const inThis: number[] = [];
        for (const l of text.trim().split('\n')) {
          const j = JSON.parse(l) as { msg: string; error?: string };
          const m = /no task "ghost-(\d+)-/.exec(j.error ?? '');
          if (m) inThis.push(Number(m[1]));
        }
        assert.deepEqual(inThis, Array.from({ length: inThis.length }, (_, k) => inThis[0]! + k), 'a backup holds consecutive lines');
        for (const i of inThis) seen.add(i);
      }
      for (const l of readFileSync(logFile, 'utf8').trim().split('\n')) {
        const m = /no task \\"ghost-(\d+)-/.exec(l);
        if (m) seen.add(Number(m[1]));
      }
      // More than three files' worth was written: max_backups had to delete the oldest.
      assert.ok(!seen.has(0), 'the first lines went with the oldest, pruned backup');
      assert.ok(seen.has(n - 1), 'the newest line is kept');
      assert.ok(!existsSync(ancient));
    } finally {
      await d.stop();
    }
  });

  it('logs to stdout in a container even when the config turns stdout off', async () => {
    const s = await setupDaemon(join(root, 'k8s'), { log: { outputs: { stdout: { enabled: false } } } });
    const d = await startDaemon(s, { env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    await d.stop();
    const lines = d.logLines();
    assert.ok(lines.some((l) => l['msg'] === 'daemon started'), d.output());
    assert.equal(lines.at(-1)!['msg'], 'daemon stopped');
  });
});
