// Which forms the workers build for a task's reporters, and when batches
// may cross to the main thread as plain lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadFormsOf } from '../../src/pipeline/task-runner.ts';
import { parseTask } from '../../src/task/task-schema.ts';

const forms = (reporters: unknown[]) => payloadFormsOf(parseTask({ id: 't', capture: { name: 'pcap', file: 'x' }, reporters }, 'test'), 'edge');

test('lines-only exactly when every reporter writes one line format', () => {
  assert.equal(forms([{ name: 'file', config: { path: '/tmp/x' } }]).linesOnly, 'json');
  assert.equal(forms([{ name: 'console' }]).linesOnly, 'text');
  assert.equal(forms([{ name: 'console', config: { format: 'json' } }, { name: 'file', config: { path: '/tmp/x' } }]).linesOnly, 'json');
  assert.equal(forms([{ name: 'console' }, { name: 'file', config: { path: '/tmp/x' } }]).linesOnly, null, 'two formats');
  assert.equal(forms([{ name: 'file', config: { path: '/tmp/x' } }, { name: 'kafka', config: { topic: 't' } }]).linesOnly, null, 'Kafka reads keys and headers');
  assert.equal(forms([{ name: 'hep', config: { address: '127.0.0.1:9060' } }]).linesOnly, null);
});

test('each reporter gets the forms it reads, and no other', () => {
  assert.deepEqual(forms([{ name: 'console' }]), { json: false, binary: false, line: null, text: true, linesOnly: 'text' });
  assert.deepEqual(forms([{ name: 'file', config: { path: '/tmp/x' } }]), { json: false, binary: false, line: { task: 't', agent: 'edge' }, text: false, linesOnly: 'json' });
  assert.deepEqual(forms([{ name: 'kafka', config: { topic: 't', serialization: 'binary' } }]), { json: false, binary: true, line: null, text: false, linesOnly: null });
  assert.deepEqual(forms([{ name: 'hep', config: { address: '127.0.0.1:9060' } }]), { json: true, binary: true, line: null, text: false, linesOnly: null });
});
