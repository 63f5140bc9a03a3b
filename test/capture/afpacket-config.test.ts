// The afpacket capturer's configuration: defaults, and refusals that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afpacketConfigSchema } from '../../src/plugins/capture/afpacket/config.ts';
import { AfPacketCapturer } from '../../src/plugins/capture/afpacket/index.ts';
import { knownPlugins, lookupPlugin } from '../../src/plugin/registry.ts';
import { ConfigError } from '../../src/core/errors.ts';

const ctx = { taskId: 't', workerIndex: 0, agent: 'a', log: () => {} };

test('afpacket config: defaults', () => {
  const c = afpacketConfigSchema.parse({ interface: 'eth0' });
  assert.deepEqual(c, {
    interface: 'eth0',
    block_size: 1 << 20,
    block_count: 64,
    frame_size: 2048,
    block_timeout_ms: 10,
    snaplen: 262144,
    promiscuous: false,
  });
  const f = afpacketConfigSchema.parse({ interface: 'eth0', fanout: { group_id: 9 } });
  assert.deepEqual(f.fanout, { group_id: 9, mode: 'hash', defrag: true });
});

test('afpacket config: the registry knows the capturer', () => {
  assert.ok(knownPlugins('capturer').includes('afpacket'));
  assert.ok(lookupPlugin('capturer', 'afpacket')() instanceof AfPacketCapturer);
});

const refused: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no interface', {}, /config\.interface/],
  ['a file', { interface: 'eth0', file: 'x.pcap' }, /unrecognized key.*file|file/i],
  ['block_size not a power of two', { interface: 'eth0', block_size: 12288 }, /config\.block_size: must be a power of two/],
  ['block_size below a page', { interface: 'eth0', block_size: 2048 }, /config\.block_size/],
  ['frame_size not aligned', { interface: 'eth0', frame_size: 2040 }, /config\.frame_size: must be a multiple of 16/],
  ['frame_size over block_size', { interface: 'eth0', block_size: 4096, frame_size: 8192 }, /config\.frame_size: must not exceed block_size/],
  ['a ring over 2 GiB', { interface: 'eth0', block_size: 1 << 26, block_count: 64 }, /config\.block_count: block_size x block_count/],
  ['an unknown fan-out mode', { interface: 'eth0', fanout: { group_id: 1, mode: 'rollover' } }, /config\.fanout\.mode/],
  ['a fan-out group id over 16 bits', { interface: 'eth0', fanout: { group_id: 70000 } }, /config\.fanout\.group_id/],
  ['an interface name too long for Linux', { interface: 'a-very-long-interface-name' }, /at most 15 characters/],
];

for (const [what, cfg, re] of refused) {
  test(`afpacket config: refuses ${what}, naming the field`, () => {
    assert.throws(
      () => new AfPacketCapturer().init(cfg, ctx),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, /^capturer afpacket: /);
        assert.match(e.message, re);
        return true;
      },
    );
  });
}

test('afpacket: run() before init() is refused', async () => {
  await assert.rejects(new AfPacketCapturer().run({ onPacket: () => true, ready: async () => {} }), /needs init\(\) first/);
});
