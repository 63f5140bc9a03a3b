// A line a plugin logs on one of the task's threads (the capture thread of
// dispatch mode, a pipeline worker) reaches the task's log with its fields
// and the thread it came from. Before, the capture thread's log went nowhere
// and a worker's lost its fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SAMPLE } from '../e2e/e2e-helpers.ts';

const execFileP = promisify(execFile);
const PLUGINS = join(ROOT, 'dist/test/pipeline/thread-log-plugins.js');
const MAIN = join(ROOT, 'dist/src/cli/main.js');

test('capturer and parser log lines from the task threads reach the log with their fields', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-thread-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const task = join(dir, 'task.json');
  writeFileSync(
    task,
    JSON.stringify({
      id: 'thread-log',
      workers: 2,
      capture: { name: 'test-logging-pcap', file: SAMPLE },
      parsers: [{ name: 'test-logging' }, { name: 'sip' }],
      reporters: [{ name: 'file', config: { path: join(dir, 'out.jsonl') } }],
    }),
  );
  const { stderr } = await execFileP(process.execPath, ['--import', PLUGINS, MAIN, 'run', '--task', task, '--no-progress'], { encoding: 'utf8' });
  const lines = stderr.split('\n');
  const capture = lines.filter((l) => l.startsWith('otus: warn: test capturer opened its file '));
  assert.equal(capture.length, 1, stderr);
  assert.deepEqual(JSON.parse(capture[0]!.slice('otus: warn: test capturer opened its file '.length)), { file: SAMPLE, thread: 'capture' });
  const parsers = lines.filter((l) => l.startsWith('otus: info: test parser ready ')).map((l) => JSON.parse(l.slice('otus: info: test parser ready '.length)));
  // Each worker builds the parsers; the capture thread builds the signalling ones only (SIP), never this one.
  assert.deepEqual(parsers.sort((a, b) => a.worker - b.worker), [{ answer: 42, worker: 0 }, { answer: 42, worker: 1 }]);
});
