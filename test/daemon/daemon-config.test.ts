// The global configuration as the real daemon and CLI see it: `otus validate`,
// OTUS_* overrides (and a bad one refused naming the variable), the socket
// found through --config, `otus reload` applying and refusing changes, and
// the task history pruned by age at start and by count on gc_interval.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { fileTask, runCli, SAMPLE, scrape, setupDaemon, startDaemon, taskStatus, waitFor } from './daemon-process.ts';
import { call } from './rpc-client.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-dcfg-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function noStack(s: string): void {
  assert.doesNotMatch(s, /\n\s+at /, `no stack trace expected:\n${s}`);
}

describe('otus validate', () => {
  it('accepts good files and names every bad field of the others', async () => {
    const dir = join(root, 'validate');
    const s = await setupDaemon(dir);
    const ok = await runCli(['validate', '--config', s.configFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /config\.yml: valid global configuration/);

    const badCfg = join(dir, 'bad.yml');
    writeFileSync(badCfg, 'otus:\n  metrics: { listen: 3, bogus: 1 }\n  log: { level: loud }\n');
    const bad = await runCli(['validate', '--config', badCfg]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yml: .*otus\.metrics\.listen: .*expected string/);
    assert.match(bad.stderr, /otus\.metrics: Unrecognized key: "bogus"/);
    assert.match(bad.stderr, /otus\.log\.level: /);
    noStack(bad.stderr);

    // A value from the environment is named by its variable: the file is not where the mistake is.
    const fromEnv = await runCli(['validate', '--config', s.configFile], { OTUS_TASK_PERSISTENCE_MAX_TASK_HISTORY: '-3' });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /otus\.task_persistence\.max_task_history \(from OTUS_TASK_PERSISTENCE_MAX_TASK_HISTORY\): Too small/);

    const task = join(dir, 'task.yml');
    writeFileSync(task, stringify(fileTask('v-1', SAMPLE, join(dir, 'out.jsonl'), { parsers: [{ name: 'sip' }] })));
    const okTask = await runCli(['validate', '--task', task]);
    assert.equal(okTask.code, 0, okTask.stderr);
    assert.match(okTask.stdout, /task\.yml: valid task "v-1"/);

    const badTask = join(dir, 'bad-task.json');
    writeFileSync(badTask, JSON.stringify({ id: 'v 2', workers: -1, capture: { name: 'pcap', file: SAMPLE }, reporters: [] }));
    const bt = await runCli(['validate', '--task', badTask]);
    assert.equal(bt.code, 2);
    for (const field of [/\bid: /, /workers: Too small/, /reporters: at least one reporter is needed/]) assert.match(bt.stderr, field);
    noStack(bt.stderr);

    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify(fileTask('v-3', SAMPLE, join(dir, 'o.jsonl'), { parsers: [{ name: 'smtp' }] })));
    const un = await runCli(['validate', '--task', unknown]);
    assert.equal(un.code, 2);
    assert.match(un.stderr, /unknown parser "smtp"; known parsers: .*sip/);
  });
});

describe('OTUS_* overrides in the daemon', () => {
  it('applies them over the file, and refuses to start on a bad one, naming the variable', async () => {
    const s = await setupDaemon(join(root, 'env'));
    const env = { OTUS_LOG_LEVEL: 'debug', OTUS_METRICS_PATH: '/prom', OTUS_NODE_HOSTNAME: 'from-env', OTUS_NODE_IP: '127.0.0.9' };
    const d = await startDaemon(s, { env });
    try {
      // No --socket: the client reads it from the same file (and the same environment).
      const st = await runCli(['status', '--json', '--config', s.configFile], env);
      assert.equal(st.code, 0, st.stderr);
      const js = JSON.parse(st.stdout) as { log_level: string; node: { hostname: string; ip: string }; metrics: { path: string } };
      assert.equal(js.log_level, 'debug');
      assert.deepEqual([js.node.hostname, js.node.ip], ['from-env', '127.0.0.9']);
      assert.equal(js.metrics.path, '/prom');
      assert.equal((await scrape(d, '/prom')).status, 200);
      assert.equal((await scrape(d, '/metrics')).status, 404);
      assert.ok(d.logLines().some((l) => l['level'] === 'debug'), 'debug lines from OTUS_LOG_LEVEL');
    } finally {
      await d.stop();
    }

    const bad = await runCli(['daemon', '--config', s.configFile], { OTUS_LOG_FORMAT: 'xml' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /otus daemon: .*config\.yml: otus\.log\.format \(from OTUS_LOG_FORMAT\): /);
    noStack(bad.stderr);
    assert.ok(!existsSync(s.pidFile) && !existsSync(s.socket), 'nothing left behind');
  });
});

describe('otus reload', () => {
  it('applies a changed file, says what needs a restart, and refuses a broken one without losing the old', async () => {
    const s = await setupDaemon(join(root, 'reload'));
    const d = await startDaemon(s);
    const cli = (...a: string[]) => runCli([...a, '--socket', s.socket]);
    try {
      const cfg = parse(readFileSync(s.configFile, 'utf8')) as { otus: Record<string, Record<string, unknown>> };
      cfg.otus['log']!['level'] = 'warn';
      cfg.otus['task_persistence']!['max_task_history'] = 7;
      cfg.otus['metrics']!['path'] = '/other';
      writeFileSync(s.configFile, stringify(cfg));
      const r = await cli('reload');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /configuration reloaded from .*config\.yml: .*otus\.log\.level/);
      assert.match(r.stdout, /otus\.task_persistence\.max_task_history/);
      assert.match(r.stdout, /these take effect only after a restart: otus\.metrics\.path/);
      assert.match(r.stdout, /log level: warn/);
      assert.equal((await scrape(d, '/metrics')).status, 200, 'the listener keeps its start-time path');

      cfg.otus['log']!['level'] = 'info';
      writeFileSync(s.configFile, stringify(cfg));
      const j = JSON.parse((await cli('reload', '--json')).stdout) as { changed: string[]; log_level: string };
      assert.deepEqual([j.changed, j.log_level], [['otus.log.level'], 'info']);

      writeFileSync(s.configFile, 'otus:\n  log: { level: info, bogus: true }\n');
      const refused = await cli('reload');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /config_reload: configuration not reloaded: .*otus\.log: Unrecognized key: "bogus"/);
      noStack(refused.stderr);
      const st = JSON.parse((await cli('status', '--json')).stdout) as { state: string; log_level: string };
      assert.deepEqual([st.state, st.log_level], ['running', 'info']);
    } finally {
      await d.stop();
    }
  });
});

describe('task history GC in the daemon', () => {
  it('drops history older than task_ttl at start and the oldest beyond max_task_history on gc_interval', async () => {
    const s = await setupDaemon(join(root, 'gc'), { task_persistence: { gc_interval: '1s', max_task_history: 2, task_ttl: '7d' } });
    const tasks = join(s.dataDir, 'tasks');
    mkdirSync(tasks, { recursive: true });
    const hist = (id: string, stoppedAt: Date) => ({
      version: 'v1',
      config: fileTask(id, SAMPLE, join(s.dir, `${id}.jsonl`)),
      state: 'stopped',
      created_at: new Date(stoppedAt.getTime() - 60_000).toISOString(),
      started_at: new Date(stoppedAt.getTime() - 59_000).toISOString(),
      stopped_at: stoppedAt.toISOString(),
      failure_reason: '',
      restart_count: 0,
    });
    writeFileSync(join(tasks, 'ancient.json'), JSON.stringify(hist('ancient', new Date(Date.now() - 30 * 86_400_000))));
    writeFileSync(join(tasks, 'recent.json'), JSON.stringify(hist('recent', new Date(Date.now() - 3_600_000))));
    const d = await startDaemon(s);
    try {
      assert.equal((await call(s.socket, 'task_status', { id: 'ancient' })).error?.code, -32001, 'older than task_ttl: pruned at start');
      assert.ok(!existsSync(join(tasks, 'ancient.json')));
      assert.equal((await taskStatus(s.socket, 'recent')).state, 'stopped', 'younger history is kept');

      for (const id of ['run-1', 'run-2', 'run-3']) {
        const c = await call(s.socket, 'task_create', fileTask(id, SAMPLE, join(s.dir, `${id}.jsonl`)));
        assert.ok(c.result, JSON.stringify(c.error));
        await waitFor(`${id} to complete`, async () => (await taskStatus(s.socket, id)).state === 'completed');
      }
      // Four finished tasks, two allowed: the next GC round removes the two that ended first.
      const ids = await waitFor('the GC round', async () => {
        const l = (await call(s.socket, 'task_list')).result as { tasks: { id: string }[] };
        const got = l.tasks.map((t) => t.id).sort();
        return got.length === 2 ? got : null;
      });
      assert.deepEqual(ids, ['run-2', 'run-3']);
      assert.deepEqual(readdirSync(tasks).sort(), ['run-2.json', 'run-3.json']);
      // The log line of that round may still be on its way from the daemon's
      // stdout when task_list already shows the result: wait for it.
      const prunedLines = () => d.logLines().filter((l) => l['msg'] === 'task history pruned').flatMap((l) => l['removed'] as string[]);
      const pruned = await waitFor('the GC round\'s log line', async () => {
        const p = prunedLines();
        return p.length >= 3 ? p : null;
      });
      assert.deepEqual(pruned, ['ancient', 'recent', 'run-1'], 'by age at start, then by count, oldest first');
    } finally {
      await d.stop();
    }
  });
});
