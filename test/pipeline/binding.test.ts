// Which mode a task runs in, and the capturer config each binding-mode worker gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindingCaptureConfig, dispatchModeOf, fanoutGroupOf } from '../../src/pipeline/binding.ts';
import { parseTask } from '../../src/task/task-schema.ts';

const task = (capture: Record<string, unknown>) => parseTask({ id: 'voip-1', capture, reporters: [{ name: 'console' }] }, 't');

test('binding: afpacket defaults to binding mode, pcap to dispatch; both can be chosen', () => {
  assert.equal(dispatchModeOf(task({ name: 'afpacket', interface: 'eth0' })), 'binding');
  assert.equal(dispatchModeOf(task({ name: 'afpacket', interface: 'eth0', dispatch_mode: 'dispatch' })), 'dispatch');
  assert.equal(dispatchModeOf(task({ name: 'pcap', file: 'x.pcap' })), 'dispatch');
  assert.throws(() => dispatchModeOf(task({ name: 'pcap', file: 'x.pcap', dispatch_mode: 'binding' })), /binding" needs a capturer with native fan-out \(afpacket\); "pcap" has none/);
});

test('binding: every worker joins one fan-out group derived from the task id and the process', () => {
  const t = task({ name: 'afpacket', interface: 'eth0', bpf_filter: 'udp', config: { block_count: 8 } });
  const c = bindingCaptureConfig(t, 2);
  assert.deepEqual(c, { block_count: 8, interface: 'eth0', bpf_filter: 'udp', fanout: { group_id: fanoutGroupOf('voip-1'), mode: 'hash', defrag: true } });
  assert.equal(fanoutGroupOf('voip-1', 100), fanoutGroupOf('voip-1', 100), 'stable');
  assert.notEqual(fanoutGroupOf('voip-1', 100), fanoutGroupOf('voip-1', 101), 'another process, another group');
  assert.notEqual(fanoutGroupOf('voip-1', 100), fanoutGroupOf('voip-2', 100));
  for (const id of ['a', 'run', 'x'.repeat(128)]) assert.ok(fanoutGroupOf(id) >= 0 && fanoutGroupOf(id) <= 0xffff);
  // One worker needs no group; configured fan-out settings are kept.
  assert.equal(bindingCaptureConfig(t, 1)['fanout'], undefined);
  const lb = bindingCaptureConfig(task({ name: 'afpacket', interface: 'eth0', config: { fanout: { mode: 'lb', defrag: false } } }), 1);
  assert.deepEqual(lb['fanout'], { mode: 'lb', defrag: false, group_id: fanoutGroupOf('voip-1') });
  const fixed = bindingCaptureConfig(task({ name: 'afpacket', interface: 'eth0', config: { fanout: { group_id: 7 } } }), 2);
  assert.deepEqual(fixed['fanout'], { group_id: 7, mode: 'hash', defrag: true });
  assert.throws(() => bindingCaptureConfig(task({ name: 'afpacket', interface: 'eth0', config: { fanout: 'hash' } }), 2), /fanout must be a map/);
});
