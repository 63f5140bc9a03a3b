// The Daemon class in this process with a fake pipeline: the start sequence,
// the methods over the real socket, reload, shutdown and resumption. (The
// same paths run against a real daemon process in the daemon-*.test.ts
// files; this one needs no capture or decoder.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.ts';
import { setupDaemon, type DaemonSetup } from './daemon-process.ts';
import { FakeRunners, taskInput } from './fake-runner.ts';
import { call } from './rpc-client.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-inproc-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function daemon(s: DaemonSetup, runners: FakeRunners, env: NodeJS.ProcessEnv = { OTUS_NODE_IP: '10.9.8.7' }): Daemon {
  return new Daemon({ configFile: s.configFile, env, runnerFactory: runners.factory, inContainer: false, controlIdleTimeoutMs: 2000 });
}

describe('Daemon (in process, fake pipeline)', () => {
  it('starts, serves the methods, reloads, stops in order, and resumes its task next time', async () => {
    const s = await setupDaemon(join(root, 'a'), { log: { outputs: { stdout: { enabled: false }, file: { enabled: true, path: join(root, 'a', 'otus.log') } } } });
    const runners = new FakeRunners();
    const d = daemon(s, runners);
    await d.start();
    assert.equal(statSync(s.socket).mode & 0o777, 0o600);
    assert.equal(readFileSync(s.pidFile, 'utf8').trim(), String(process.pid));

    const st = (await call(s.socket, 'daemon_status')).result as Record<string, unknown>;
    assert.equal((st['node'] as { ip: string }).ip, '10.9.8.7');
    assert.equal(st['active_task'], null);

    const created = await call(s.socket, 'task_create', taskInput('t1'));
    assert.equal((created.result as { state: string }).state, 'running');
    runners.last('t1').packets = 99;
    const stats = (await call(s.socket, 'daemon_stats')).result as { task: { id: string; counters: { packets_captured: number } } };
    assert.equal(stats.task.id, 't1');
    assert.equal(stats.task.counters.packets_captured, 99);
    const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
    assert.match(metrics, /otus_packets_captured_total\{task="t1"\} 99/);
    const health = (await (await fetch(`http://127.0.0.1:${s.port}/healthz`)).json()) as { status: string; active_task: { id: string } };
    assert.deepEqual([health.status, health.active_task.id], ['ok', 't1']);

    const cfg = parse(readFileSync(s.configFile, 'utf8')) as { otus: Record<string, Record<string, unknown>> };
    cfg.otus['log']!['level'] = 'debug';
    cfg.otus['metrics']!['listen'] = '127.0.0.1:1';
    writeFileSync(s.configFile, stringify(cfg));
    const rel = (await call(s.socket, 'config_reload')).result as { changed: string[]; restart_needed: string[]; log_level: string };
    assert.deepEqual(rel.changed.sort(), ['otus.log.level', 'otus.metrics.listen']);
    assert.deepEqual(rel.restart_needed, ['otus.metrics.listen']);
    assert.equal(rel.log_level, 'debug');
    assert.equal(runners.all.length, 1, 'the task was not restarted');
    assert.equal(runners.last('t1').stopped, false);

    assert.deepEqual((await call(s.socket, 'daemon_shutdown')).result, { stopping: true });
    await d.stopped;
    assert.ok(runners.last('t1').stopped, 'the task was stopped first');
    assert.ok(!existsSync(s.socket) && !existsSync(s.pidFile));
    const log = readFileSync(join(root, 'a', 'otus.log'), 'utf8');
    assert.match(log, /"msg":"daemon started"/);
    assert.match(log, /"level":"debug"/);
    assert.match(log, /"msg":"daemon stopped"/);

    const d2 = daemon(s, runners);
    await d2.start();
    const t = (await call(s.socket, 'task_status', { id: 't1' })).result as { state: string; restart_count: number };
    assert.deepEqual([t.state, t.restart_count], ['running', 1]);
    assert.equal(runners.all.length, 2);
    await d2.stop('test');
  });

  it('refuses to start without a node IP, leaving nothing behind', async () => {
    const s = await setupDaemon(join(root, 'b'), { node: { ip: '' }, log: { outputs: { stdout: { enabled: false } } } });
    const d = new Daemon({ configFile: s.configFile, env: {}, runnerFactory: new FakeRunners().factory, inContainer: false });
    // Whether this machine has an address to detect decides the outcome; both must be clean.
    try {
      await d.start();
      await d.stop('test');
    } catch (e) {
      assert.match((e as Error).message, /cannot resolve the node IP: set OTUS_NODE_IP or otus\.node\.ip/);
    }
    assert.ok(!existsSync(s.pidFile) && !existsSync(s.socket));
  });

  it('undoes its start when the metrics port is taken', async () => {
    const s1 = await setupDaemon(join(root, 'c1'), { log: { outputs: { stdout: { enabled: false } } } });
    const s2 = await setupDaemon(join(root, 'c2'), { log: { outputs: { stdout: { enabled: false } } } }, s1.port);
    const runners = new FakeRunners();
    const d1 = daemon(s1, runners);
    await d1.start();
    try {
      const d2 = daemon(s2, runners);
      await assert.rejects(d2.start(), /metrics endpoint: cannot listen on 127\.0\.0\.1:\d+: address in use/);
      assert.ok(!existsSync(s2.pidFile) && !existsSync(s2.socket), 'pid file and socket removed again');
    } finally {
      await d1.stop('test');
    }
  });
});
