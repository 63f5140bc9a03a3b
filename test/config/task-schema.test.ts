import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTaskFile, parseTask } from '../../src/task/task-schema.ts';

const base = { id: 't1', capture: { name: 'pcap', file: 'x.pcap' }, reporters: [{ name: 'console' }] };

test('a minimal task gets its defaults', () => {
  const t = parseTask(base, 'test');
  assert.equal(t.workers, 0);
  assert.equal(t.unmatched_policy, 'drop');
  assert.deepEqual(t.parsers, []);
  assert.deepEqual(t.reporters[0]!.config, {});
});

test('unknown keys, wrong types and impossible values name the field', () => {
  assert.throws(() => parseTask({ ...base, colour: 'red' }, 'task.yml'), /task\.yml: .*colour/);
  assert.throws(() => parseTask({ ...base, workers: -1 }, 'task.yml'), /task\.yml: workers: /);
  assert.throws(() => parseTask({ ...base, unmatched_policy: 'keep' }, 'task.yml'), /unmatched_policy/);
  assert.throws(() => parseTask({ ...base, reporters: [] }, 'task.yml'), /reporters: at least one reporter/);
  assert.throws(() => parseTask({ ...base, parsers: [{ name: 'sip', cfg: {} }] }, 'task.yml'), /parsers\.0/);
  assert.throws(() => parseTask({ ...base, id: '../etc' }, 'task.yml'), /id: must be/);
  assert.throws(() => parseTask({ ...base, capture: { name: 'pcap', file: 'a', interface: 'eth0' } }, 'task.yml'), /either interface or file/);
});

test('task files are read as YAML or JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-task-'));
  const y = join(dir, 't.yml');
  writeFileSync(y, 'id: voip-1\nworkers: 2\ncapture: { name: pcap, file: a.pcap }\nreporters: [{ name: console, config: { format: json } }]\n');
  assert.equal(loadTaskFile(y).workers, 2);
  const j = join(dir, 't.json');
  writeFileSync(j, JSON.stringify(base));
  assert.equal(loadTaskFile(j).id, 't1');
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'id: [');
  assert.throws(() => loadTaskFile(bad), /bad\.yml: not valid YAML/);
});
