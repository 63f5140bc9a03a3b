// Task persistence end to end (ADR-030): a daemon killed with -9 during a
// task resumes it at the next start, so does one stopped gracefully, and a
// damaged task file costs only its own task. The task is kept running by a
// slow consumer (see slow-consumer.ts), not by timing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileTask, sample, scrape, setupDaemon, startDaemon, stopDraining, taskStatus, waitFor, writeLongCapture, type DaemonHandle } from './daemon-process.ts';
import { call } from './rpc-client.ts';
import { makeFifo, SlowConsumer } from './slow-consumer.ts';

let root: string;
let longPcap: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-restart-'));
  longPcap = join(root, 'long.pcap');
  writeLongCapture(longPcap, 200);
});
after(() => rmSync(root, { recursive: true, force: true }));

const recordOf = (dataDir: string, id: string) => JSON.parse(readFileSync(join(dataDir, 'tasks', `${id}.json`), 'utf8')) as { state: string; restart_count: number };

async function runningStatus(socket: string, id: string) {
  return waitFor(`task ${id} running`, async () => {
    const st = await taskStatus(socket, id);
    return st.state === 'running' ? st : null;
  });
}

const reported = (body: string, id: string) => sample(body, `otus_packets_reported_total{task="${id}",reporter="file"}`) ?? 0;

describe('task resumption', () => {
  it('resumes a task after kill -9 (restart_count 1) and after a graceful stop (restart_count 2), not after a delete', async () => {
    const s = await setupDaemon(join(root, 'kill9'));
    const fifo = makeFifo(join(root, 'kill9', 'records.fifo'));
    let reader: SlowConsumer | null = new SlowConsumer(fifo);
    let d: DaemonHandle = await startDaemon(s);
    try {
      const created = await call(s.socket, 'task_create', fileTask('resume-me', longPcap, fifo));
      assert.ok(created.result, JSON.stringify(created.error));
      await reader.readFor(200);
      await waitFor('packets flowing', async () => ((await taskStatus(s.socket, 'resume-me')).counters as { packets_captured: number } | null)?.packets_captured);
      assert.equal((await taskStatus(s.socket, 'resume-me')).state, 'running', 'held back by the slow consumer');

      d.proc.kill('SIGKILL');
      assert.deepEqual(await d.exited, { code: null, signal: 'SIGKILL' });
      assert.ok(existsSync(s.pidFile) && existsSync(s.socket), 'a killed daemon leaves its pid file and socket behind');
      assert.equal(recordOf(s.dataDir, 'resume-me').state, 'running');
      reader.close();

      reader = new SlowConsumer(fifo);
      d = await startDaemon(s); // replaces the stale pid file and socket
      const st = await runningStatus(s.socket, 'resume-me');
      assert.equal(st.restart_count, 1);
      assert.equal(recordOf(s.dataDir, 'resume-me').restart_count, 1);

      const first = await waitFor('the resumed task counting in the metrics', async () => {
        const m = await scrape(d);
        return (sample(m.body, 'otus_packets_captured_total{task="resume-me"}') ?? 0) > 0 ? m.body : null;
      });
      assert.equal(sample(first, 'otus_task_restarts_total{task="resume-me"}'), 1);
      assert.equal(sample(first, 'otus_task_state{task="resume-me",state="running"}'), 1);
      const r1 = reported(first, 'resume-me');
      await reader.readFor(300);
      await waitFor('more records reported', async () => reported((await scrape(d)).body, 'resume-me') > r1);

      // A graceful stop is not the end of the task either: an upgrade must not lose it.
      assert.deepEqual(await stopDraining(d, reader), { code: 0, signal: null });
      assert.equal(recordOf(s.dataDir, 'resume-me').state, 'running');
      reader.close();
      reader = new SlowConsumer(fifo);
      d = await startDaemon(s);
      const again = await runningStatus(s.socket, 'resume-me');
      assert.equal(again.restart_count, 2);

      // Only a delete ends a task for good: after it, a restart brings nothing back.
      const deleting = call(s.socket, 'task_delete', { id: 'resume-me' });
      setTimeout(() => reader?.drain(), 200);
      assert.equal(((await deleting).result as { state: string }).state, 'stopped');
      assert.deepEqual(await d.stop(), { code: 0, signal: null });
      reader.close();
      reader = null;
      d = await startDaemon(s);
      const after = await taskStatus(s.socket, 'resume-me');
      assert.deepEqual([after.state, after.restart_count], ['stopped', 2]);
      assert.equal(((await call(s.socket, 'daemon_status')).result as { active_task: unknown }).active_task, null);
    } finally {
      await stopDraining(d, reader);
      reader?.close();
    }
  });

  it('marks a corrupted task file failed while another task resumes', async () => {
    const s = await setupDaemon(join(root, 'corrupt'));
    const tasks = join(s.dataDir, 'tasks');
    mkdirSync(tasks, { recursive: true });
    const fifo = makeFifo(join(root, 'corrupt', 'survivor.fifo'));
    const reader = new SlowConsumer(fifo);
    writeFileSync(join(tasks, 'broken.json'), '{"version":"v1","state":"running","config":{"id":"bro');
    writeFileSync(
      join(tasks, 'survivor.json'),
      JSON.stringify({
        version: 'v1',
        config: fileTask('survivor', longPcap, fifo),
        state: 'running',
        created_at: '2026-01-01T00:00:00.000Z',
        started_at: '2026-01-01T00:00:01.000Z',
        stopped_at: null,
        failure_reason: '',
        restart_count: 0,
      }),
    );
    const d = await startDaemon(s);
    try {
      const ok = await runningStatus(s.socket, 'survivor');
      assert.equal(ok.restart_count, 1);
      const bad = await taskStatus(s.socket, 'broken');
      assert.equal(bad.state, 'failed');
      assert.match(String(bad['failure_reason']), /unreadable task file \(not valid JSON/);
      const names = readdirSync(tasks);
      assert.ok(names.some((n) => n.startsWith('broken.json.corrupt-')), names.join(' '));
      assert.match(d.output(), /"level":"error".*task file is unreadable/);
      // The daemon says `starting` until the restore is over.
      const status = await waitFor('the daemon running', async () => {
        const st = (await call(s.socket, 'daemon_status')).result as { state: string; active_task: { id: string } };
        return st.state === 'running' ? st : null;
      });
      assert.equal(status.active_task.id, 'survivor');
    } finally {
      await stopDraining(d, reader);
      reader.close();
    }
  });
});
