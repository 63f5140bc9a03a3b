// The daemon end to end, driven through the CLI as an operator would: start,
// create a task over a capture file, list, status, stats, reload, stop, and a
// clean shutdown. Plus the refusals: no node IP, a second daemon, no daemon.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  OTUS,
  SAMPLE,
  daemonEnv,
  fileTask,
  runCli,
  sample,
  scrape,
  setupDaemon,
  startDaemon,
  taskStatus,
  waitFor,
  writeLongCapture,
  type DaemonHandle,
} from './daemon-process.ts';
import { call } from './rpc-client.ts';
import { makeFifo, SlowConsumer } from './slow-consumer.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-e2e-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function noStack(s: string): void {
  assert.doesNotMatch(s, /\n\s+at /, `no stack trace expected:\n${s}`);
}

describe('otus daemon through the CLI', () => {
  let d: DaemonHandle;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--socket', d.socket]);

  before(async () => {
    dir = join(root, 'life');
    d = await startDaemon(await setupDaemon(dir));
  });
  after(async () => {
    await d?.stop();
  });

  it('reports its status, health and metrics', async () => {
    const st = await cli('status');
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /daemon running, pid \d+/);
    assert.match(st.stdout, /node\s+edge-test \(127\.0\.0\.1\)/);
    assert.match(st.stdout, /active task\s+none/);
    const js = JSON.parse((await cli('status', '--json')).stdout) as Record<string, unknown>;
    assert.equal(js['pid'], d.proc.pid);
    assert.equal(js['config_file'], d.configFile);
    assert.equal((js['node'] as { ip: string }).ip, '127.0.0.1');
    const h = await scrape(d, '/healthz');
    assert.equal(h.status, 200);
    assert.equal((JSON.parse(h.body) as { status: string }).status, 'ok');
    const m = await scrape(d);
    assert.equal(m.status, 200);
    assert.match(m.body, /process_resident_memory_bytes/);
    assert.equal((await scrape(d, '/nope')).status, 404);
    // The socket is the daemon's, for root only.
    assert.equal(statSync(d.socket).mode & 0o777, 0o600);
    assert.equal(readFileSync(d.pidFile, 'utf8').trim(), String(d.proc.pid));
  });

  it('runs a task over a capture file to its end: create, status, list, stats', async () => {
    const out = join(dir, 'out', 'records.jsonl');
    const taskFile = join(dir, 'task.yml');
    writeFileSync(taskFile, stringify(fileTask('sample-1', SAMPLE, out)));
    const created = await cli('task', 'create', '-f', taskFile);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /task sample-1 created: running/);

    const done = await waitFor('the file task to complete', async () => {
      const s = await taskStatus(d.socket, 'sample-1');
      return s.state === 'completed' ? s : null;
    });
    assert.equal(done.restart_count, 0);
    assert.equal(done.failure_reason, '');
    const c = done.counters as { packets_captured: number; reported: Record<string, number> };
    assert.equal(c.packets_captured, 222);
    assert.equal(c.reported['file'], 222);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 222);
    assert.equal((JSON.parse(lines[0]!) as { task: string }).task, 'sample-1');

    const status = await cli('task', 'status', '--id', 'sample-1');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /state\s+completed/);
    assert.match(status.stdout, /captured\s+222 packets/);
    assert.match(status.stdout, /reported\s+file 222/);

    const list = await cli('task', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID\s+STATE\s+RESTARTS/);
    assert.match(list.stdout, /sample-1\s+completed\s+0/);
    const listJson = JSON.parse((await cli('task', 'list', '--json')).stdout) as { tasks: { id: string; state: string }[] };
    assert.deepEqual(listJson.tasks.map((t) => [t.id, t.state]), [['sample-1', 'completed']]);

    const stats = await cli('stats');
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /memory\s+rss [\d.]+ MB/);
    const statsJson = JSON.parse((await cli('stats', '--json')).stdout) as { process: { memory: { rss: number } } };
    assert.ok(statsJson.process.memory.rss > 0);

    const m = await scrape(d);
    assert.equal(sample(m.body, 'otus_packets_captured_total{task="sample-1"}'), 222);
    assert.equal(sample(m.body, 'otus_packets_reported_total{task="sample-1",reporter="file"}'), 222);
    assert.equal(sample(m.body, 'otus_task_state{task="sample-1",state="completed"}'), 1);
  });

  it('holds one active task, stops it on request, and keeps it as history', async () => {
    const big = join(dir, 'long.pcap');
    writeLongCapture(big, 200);
    const fifo = makeFifo(join(dir, 'long.fifo'));
    const reader = new SlowConsumer(fifo);
    const t = join(dir, 'long.json');
    writeFileSync(t, JSON.stringify(fileTask('long-1', big, fifo)));
    const c = await cli('task', 'create', '-f', t);
    assert.equal(c.code, 0, c.stderr);

    writeFileSync(join(dir, 'other.json'), JSON.stringify(fileTask('other', SAMPLE, join(dir, 'out', 'o.jsonl'))));
    const refused = await cli('task', 'create', '-f', join(dir, 'other.json'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /task "long-1" is running; phase 1 runs one task at a time/);
    noStack(refused.stderr);
    const st = await cli('status');
    assert.match(st.stdout, /active task\s+long-1 \(running, restarts 0\)/);

    // The stop is asked before the consumer drains: the task cannot complete on its own meanwhile.
    const stopping = cli('task', 'stop', '--id', 'long-1');
    setTimeout(() => reader.drain(), 300);
    const stop = await stopping;
    reader.close();
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /task long-1 stopped/);
    const s = await taskStatus(d.socket, 'long-1');
    assert.equal(s.state, 'stopped');
    assert.ok(s.stopped_at);
    const rec = JSON.parse(readFileSync(join(d.dataDir, 'tasks', 'long-1.json'), 'utf8')) as { state: string; version: string };
    assert.deepEqual([rec.version, rec.state], ['v1', 'stopped']);

    const unknown = await cli('task', 'status', '--id', 'ghost');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no task "ghost"/);
    const removed = await cli('task', 'stop', '--id', 'long-1');
    assert.match(removed.stdout, /removed from the history/);
    assert.ok(!existsSync(join(d.dataDir, 'tasks', 'long-1.json')));
  });

  it('refuses a bad task file with the field named, before sending it', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, stringify({ id: 'bad', capture: { name: 'pcap', file: SAMPLE }, reporters: [{ name: 'file', config: { path: '/tmp/x' } }], workers: 'many' }));
    const r = await cli('task', 'create', '-f', bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /workers/);
    noStack(r.stderr);
    // Over the socket, the same mistake is a -32602 naming the field.
    const e = (await call(d.socket, 'task_create', { id: 'bad', capture: { name: 'pcap', file: SAMPLE }, reporters: [{ name: 'nosuch' }] })).error!;
    assert.equal(e.code, -32602);
    assert.match(e.message, /unknown reporter "nosuch"; known reporters: .*file/);
    const gone = (await call(d.socket, 'task_create', fileTask('gone', join(dir, 'missing.pcap'), join(dir, 'out', 'g.jsonl')))).error!;
    assert.equal(gone.code, -32602);
    assert.match(gone.message, /capture\.file: .*missing\.pcap: no such file/);
    assert.equal((await call(d.socket, 'task_status', { id: 'gone' })).error?.code, -32001, 'an invalid task leaves no record');
  });

  it('reloads its configuration on request', async () => {
    const r = await cli('reload');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration reloaded from .*config\.yml: no changes/);
  });
});

describe('daemon refusals and shutdown', () => {
  it('refuses a second daemon while one runs', async () => {
    const s = await setupDaemon(join(root, 'twice'));
    const d = await startDaemon(s);
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = spawn(OTUS, ['daemon', '--config', s.configFile], { env: daemonEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.setEncoding('utf8').on('data', (x: string) => (err += x));
        p.once('exit', (code) => resolve({ code, err }));
      });
      assert.equal(r.code, 1);
      assert.match(r.err, /another otus daemon \(pid \d+\) is running/);
      noStack(r.err);
      assert.equal(readFileSync(s.pidFile, 'utf8').trim(), String(d.proc.pid), 'the running daemon keeps its pid file');
      assert.ok((await call(s.socket, 'daemon_status')).result, 'and its socket');
    } finally {
      await d.stop();
    }
  });

  it('stops on SIGTERM and removes its pid file and socket', async () => {
    const s = await setupDaemon(join(root, 'term'));
    const d = await startDaemon(s);
    const r = await d.stop();
    assert.deepEqual(r, { code: 0, signal: null });
    assert.ok(!existsSync(s.pidFile));
    assert.ok(!existsSync(s.socket));
    assert.match(d.output(), /"msg":"daemon stopped"/);
  });

  it('refuses to start when the node IP cannot be resolved', async (t) => {
    try {
      execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    } catch {
      return t.skip('unshare -n is not available: cannot build a network with no usable address');
    }
    const s = await setupDaemon(join(root, 'noip'));
    const env = daemonEnv();
    delete env['OTUS_NODE_IP'];
    let code = 0;
    let err = '';
    try {
      // A new network namespace has only a down loopback: nothing to detect.
      execFileSync('unshare', ['-n', OTUS, 'daemon', '--config', s.configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      code = (e as { status: number }).status;
      err = String((e as { stderr: Buffer }).stderr);
    }
    assert.equal(code, 1);
    assert.match(err, /cannot resolve the node IP: set OTUS_NODE_IP or otus\.node\.ip/);
    noStack(err);
    assert.ok(!existsSync(s.pidFile), 'nothing was left behind');
  });

  it('says clearly that no daemon is running', async () => {
    for (const args of [['status'], ['task', 'list'], ['stats'], ['reload'], ['task', 'status', '--id', 'x']]) {
      const r = await runCli([...args, '--socket', join(root, 'nobody-home.sock')]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /the otus daemon is not running/);
      noStack(r.stderr);
    }
  });
});
