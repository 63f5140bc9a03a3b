// The task manager and its persistence (ADR-030/031), with a fake runner:
// state machine, phase-1 limit, restore after a restart, GC.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError } from '../../src/core/errors.ts';
import { TaskStore, type PersistedTask } from '../../src/task/persistence.ts';
import { TaskError } from '../../src/task/task-errors.ts';
import { TaskManager, type TaskManagerSettings } from '../../src/task/task-manager.ts';
import { FakeRunners, taskInput, until } from './fake-runner.ts';

const SETTINGS: TaskManagerSettings = { auto_restart: true, gc_interval: 3600, max_task_history: 100, task_ttl: 7 * 86400 };

let dir: string;
let store: TaskStore;
let runners: FakeRunners;
let logs: { level: string; msg: string; fields?: Record<string, unknown> }[];

function manager(settings: Partial<TaskManagerSettings> = {}, s = store): TaskManager {
  return new TaskManager({ store: s, runnerFactory: runners.factory, log: (level, msg, fields) => void logs.push({ level, msg, ...(fields ? { fields } : {}) }), settings: { ...SETTINGS, ...settings } });
}

function fileOf(id: string): PersistedTask {
  return JSON.parse(readFileSync(join(dir, 'tasks', `${id}.json`), 'utf8')) as PersistedTask;
}

function writeRecord(id: string, rec: Partial<PersistedTask>): void {
  const full: PersistedTask = {
    version: 'v1',
    config: taskInput(id),
    state: 'running',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: '2026-01-01T00:00:01.000Z',
    stopped_at: null,
    failure_reason: '',
    restart_count: 0,
    ...rec,
  };
  writeFileSync(join(dir, 'tasks', `${id}.json`), JSON.stringify(full));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otus-tm-'));
  store = TaskStore.under(dir, true);
  await store.init();
  runners = new FakeRunners();
  logs = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('task manager', () => {
  it('creates a task, records it as running, and stops it for good on delete', async () => {
    const m = manager();
    const v = await m.create(taskInput('t1'));
    assert.equal(v.state, 'running');
    assert.equal(fileOf('t1').state, 'running');
    assert.equal(fileOf('t1').version, 'v1');
    assert.ok(fileOf('t1').started_at);
    assert.deepEqual(readdirSync(join(dir, 'tasks')), ['t1.json'], 'no temporary file left behind');

    runners.last('t1').packets = 42;
    const st = m.status('t1');
    assert.equal(st.counters?.packets_captured, 42);
    assert.equal(st.counters?.reported['file'], 42);

    const d = await m.delete('t1');
    assert.equal(d.state, 'stopped');
    assert.equal(d.removed, false);
    assert.ok(runners.last('t1').stopped);
    assert.equal(fileOf('t1').state, 'stopped');
    assert.ok(fileOf('t1').stopped_at);
    assert.equal(m.status('t1').counters?.packets_captured, 42, 'the last figures stay readable');

    const again = await m.delete('t1');
    assert.equal(again.removed, true);
    assert.deepEqual(readdirSync(join(dir, 'tasks')), []);
    assert.throws(() => m.status('t1'), (e: unknown) => e instanceof TaskError && e.taskCode === 'TASK_NOT_FOUND');
  });

  it('holds one active task at a time (phase 1) and refuses an id in use', async () => {
    const m = manager();
    await m.create(taskInput('a'));
    await assert.rejects(m.create(taskInput('a')), (e: unknown) => e instanceof TaskError && e.taskCode === 'TASK_EXISTS');
    await assert.rejects(m.create(taskInput('b')), (e: unknown) => e instanceof TaskError && e.taskCode === 'TASK_LIMIT' && /stop it first/.test(e.message));
    // Two racing creates: exactly one wins.
    await m.delete('a');
    const results = await Promise.allSettled([m.create(taskInput('c')), m.create(taskInput('d'))]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  });

  it('refuses an invalid task with the field named, and keeps nothing of it', async () => {
    const m = manager();
    await assert.rejects(m.create({ id: 'x', capture: { name: 'pcap' }, reporters: [], bogus: 1 }), (e: unknown) => e instanceof ConfigError && /reporters/.test(e.message));
    runners.failStart.set('bad-plugin', new ConfigError('reporter "file": path: required', 'path'));
    await assert.rejects(m.create(taskInput('bad-plugin')), ConfigError);
    assert.deepEqual(m.list(), []);
    assert.deepEqual(readdirSync(join(dir, 'tasks')), []);
  });

  it('records a task that fails to start as failed history', async () => {
    const m = manager();
    runners.failStart.set('t', new Error('no such device'));
    await assert.rejects(m.create(taskInput('t')), (e: unknown) => e instanceof TaskError && e.taskCode === 'TASK_START_FAILED');
    assert.equal(fileOf('t').state, 'failed');
    assert.match(fileOf('t').failure_reason, /no such device/);
    assert.equal(m.active(), null);
  });

  it('marks a file task completed when its capture ends, failed when it ends on an error', async () => {
    const m = manager();
    await m.create(taskInput('f1'));
    runners.last('f1').packets = 7;
    runners.last('f1').finish();
    await until(() => fileOf('f1').state === 'completed', 2000, 'completed');
    assert.equal(m.status('f1').counters?.packets_captured, 7);
    assert.equal(m.active(), null);

    await m.create(taskInput('f2'));
    runners.last('f2').finish('f2.pcap: at byte offset 100: truncated record');
    await until(() => fileOf('f2').state === 'failed', 2000, 'failed');
    assert.match(fileOf('f2').failure_reason, /byte offset 100/);

    await m.create(taskInput('f3'));
    runners.last('f3').crash(new Error('pipeline 0: boom'));
    await until(() => fileOf('f3').state === 'failed', 2000, 'failed');
    assert.match(m.status('f3').failure_reason, /boom/);
  });

  it('keeps the record "running" across a shutdown so that the next start resumes it', async () => {
    const m = manager();
    await m.create(taskInput('keep'));
    await m.shutdown();
    assert.ok(runners.last('keep').stopped);
    assert.equal(fileOf('keep').state, 'running');
    await assert.rejects(m.create(taskInput('late')), (e: unknown) => e instanceof TaskError && e.taskCode === 'SHUTTING_DOWN');

    const m2 = manager();
    const r = await m2.restore();
    assert.deepEqual(r.resumed, ['keep']);
    assert.equal(m2.status('keep').state, 'running');
    assert.equal(m2.status('keep').restart_count, 1);
    assert.equal(fileOf('keep').restart_count, 1);
    assert.equal(runners.all.length, 2);
  });
});

describe('restore after a restart', () => {
  it('resumes the interrupted task, fails a corrupted file and a never-started one, keeps history', async () => {
    writeRecord('live', { state: 'running', restart_count: 2 });
    writeFileSync(join(dir, 'tasks', 'broken.json'), '{"version":"v1","config":{'); // torn by hand: not JSON
    writeRecord('early', { state: 'created', started_at: null });
    writeRecord('old', { state: 'stopped', stopped_at: '2026-01-02T00:00:00.000Z' });
    writeFileSync(join(dir, 'tasks', '.live.json.tmp'), 'half a write');

    const m = manager({ task_ttl: 1e9 });
    const r = await m.restore();
    assert.deepEqual(r.resumed, ['live']);
    assert.deepEqual(r.failed.sort(), ['broken', 'early']);
    assert.equal(r.history, 1);

    assert.equal(m.status('live').state, 'running');
    assert.equal(fileOf('live').restart_count, 3);
    const broken = m.status('broken');
    assert.equal(broken.state, 'failed');
    assert.match(broken.failure_reason, /unreadable task file.*not valid JSON/);
    const names = readdirSync(join(dir, 'tasks'));
    assert.ok(names.some((n) => n.startsWith('broken.json.corrupt-')), `the damaged original is kept aside: ${names.join(' ')}`);
    assert.ok(!names.includes('.live.json.tmp'), 'an unfinished write is discarded');
    assert.equal(fileOf('broken').state, 'failed');
    assert.equal(fileOf('early').state, 'failed');
    assert.equal(m.status('old').state, 'stopped');
    assert.ok(logs.some((l) => l.level === 'error' && /unreadable/.test(l.msg)));
  });

  it('keeps a task whose delete was cut short stopped: only a delete writes "stopping"', async () => {
    const m1 = manager();
    await m1.create(taskInput('doomed'));
    runners.last('doomed').holdStop = true;
    const deleting = m1.delete('doomed');
    await until(() => fileOf('doomed').state === 'stopping');
    // The daemon dies here, mid-delete. The next one must not resume the task.
    writeRecord('other', { state: 'running', started_at: '2025-01-01T00:00:00.000Z' });
    const m2 = manager();
    const r = await m2.restore();
    assert.deepEqual(r.resumed, ['other']);
    assert.equal(m2.status('doomed').state, 'stopped');
    assert.equal(fileOf('doomed').state, 'stopped');
    assert.equal(m2.status('doomed').restart_count, 0);
    runners.last('doomed').releaseStop();
    await deleting;
  });

  it('marks a task that cannot come back failed without stopping the daemon', async () => {
    writeRecord('nope', { state: 'running' });
    runners.failStart.set('nope', new Error('interface eth9 is gone'));
    const m = manager();
    const r = await m.restore();
    assert.deepEqual(r.failed, ['nope']);
    assert.equal(fileOf('nope').state, 'failed');
    assert.match(fileOf('nope').failure_reason, /eth9/);
    await m.create(taskInput('next')); // the slot is free
  });

  it('refuses a stored task whose config no longer validates', async () => {
    writeRecord('weird', { config: { id: 'weird', capture: {}, reporters: [] } });
    const m = manager();
    const r = await m.restore();
    assert.deepEqual(r.failed, ['weird']);
    assert.match(m.status('weird').failure_reason, /stored task is invalid.*capture/);
  });

  it('resumes one task when several claim the slot: the most recent', async () => {
    writeRecord('older', { started_at: '2026-01-01T00:00:00.000Z' });
    writeRecord('newer', { started_at: '2026-01-03T00:00:00.000Z' });
    const m = manager();
    const r = await m.restore();
    assert.deepEqual(r.resumed, ['newer']);
    assert.match(m.status('older').failure_reason, /phase 1/);
  });

  it('loads running tasks as history when auto_restart is false', async () => {
    writeRecord('idle', { state: 'running' });
    const m = manager({ auto_restart: false });
    const r = await m.restore();
    assert.deepEqual(r.resumed, []);
    assert.equal(runners.all.length, 0);
    assert.equal(fileOf('idle').state, 'stopped');
    assert.match(fileOf('idle').failure_reason, /auto_restart/);
  });

  it('does nothing on disk when persistence is disabled', async () => {
    const off = TaskStore.under(join(dir, 'off'), false);
    await off.init();
    const m = manager({}, off);
    await m.create(taskInput('mem'));
    await m.delete('mem');
    assert.deepEqual(readdirSync(dir), ['tasks']);
    assert.deepEqual(await manager({}, off).restore(), { resumed: [], failed: [], history: 0 });
  });
});

describe('history GC', () => {
  it('removes finished tasks older than task_ttl, then the oldest beyond max_task_history', async () => {
    const day = 86_400_000;
    const now = Date.parse('2026-03-01T00:00:00.000Z');
    const at = (d: number) => new Date(now - d * day).toISOString();
    writeRecord('ancient', { state: 'stopped', stopped_at: at(30) });
    writeRecord('h1', { state: 'failed', stopped_at: at(3) });
    writeRecord('h2', { state: 'completed', stopped_at: at(2) });
    writeRecord('h3', { state: 'stopped', stopped_at: at(1) });
    writeRecord('active', { state: 'running' });
    const m = manager({ max_task_history: 2, task_ttl: 7 * 86400 });
    await m.restore();
    const removed = await m.gc(now);
    assert.deepEqual(removed.sort(), ['ancient', 'h1']);
    assert.deepEqual(
      m.list().map((t) => t.id).sort(),
      ['active', 'h2', 'h3'],
    );
    assert.deepEqual(readdirSync(join(dir, 'tasks')).sort(), ['active.json', 'h2.json', 'h3.json']);
  });

  it('prunes nothing with max_task_history 0 (tmpfiles.d alone prunes), but keeps the active file fresh', async () => {
    writeRecord('ancient', { state: 'stopped', stopped_at: '2000-01-01T00:00:00.000Z' });
    const m = manager({ max_task_history: 0 });
    await m.restore();
    await m.create(taskInput('long-running'));
    const file = join(dir, 'tasks', 'long-running.json');
    utimesSync(file, new Date('2020-01-01'), new Date('2020-01-01'));
    assert.deepEqual(await m.gc(), []);
    assert.equal(m.list().length, 2);
    assert.ok(Date.now() - statSync(file).mtimeMs < 60_000, 'tmpfiles.d must not see a running task as stale');
  });
});
