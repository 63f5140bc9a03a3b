// The daemon's logs end to end: SIGHUP changes the level at once without
// touching the running task, lines reach a Loki receiver and a log file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { fileTask, setupDaemon, startDaemon, stopDraining, taskStatus, waitFor, writeLongCapture } from './daemon-process.ts';
import { LokiReceiver } from './loki-receiver.ts';
import { call } from './rpc-client.ts';
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
});
