// Processor "label": static labels and the node name, without overwriting
// what the parser said unless asked to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import { lookupPlugin } from '../../src/plugin/registry.ts';
import { LabelProcessor } from '../../src/plugins/processor/index.ts';
import { ctx, packet } from './output-packets.ts';

function labeller(config: Record<string, unknown>, agent = ctx.agent): LabelProcessor {
  const l = new LabelProcessor();
  l.init(config, { ...ctx, agent });
  return l;
}

test('registered as processor "label"', () => {
  assert.ok(lookupPlugin('processor', 'label')() instanceof LabelProcessor);
});

test('adds node and static labels, always passing the packet', () => {
  const l = labeller({ labels: { dc: 'fra1', env: 'prod' } });
  const p = packet('sip', { 'sip.method': 'INVITE' });
  assert.equal(l.process(p), true);
  assert.deepEqual(p.labels, { 'sip.method': 'INVITE', node: 'edge-01', dc: 'fra1', env: 'prod' });
});

test('node: false leaves the node out; an explicit labels.node wins over the agent name', () => {
  const off = labeller({ node: false, labels: { dc: 'x' } });
  const p = packet('dns', {});
  off.process(p);
  assert.deepEqual(p.labels, { dc: 'x' });
  const named = labeller({ labels: { node: 'pop-7' } });
  const q = packet('dns', {});
  named.process(q);
  assert.deepEqual(q.labels, { node: 'pop-7' });
  const anonymous = labeller({}, '');
  const r = packet('dns', {});
  anonymous.process(r);
  assert.deepEqual(r.labels, {}, 'no node label for an empty agent name');
});

test('parser labels are kept unless overwrite is true', () => {
  const keep = labeller({ labels: { 'call-id': 'static', env: 'prod' } });
  const p = packet('rtp', { 'call-id': 'from-sip', node: 'parser-said' });
  keep.process(p);
  assert.deepEqual(p.labels, { 'call-id': 'from-sip', node: 'parser-said', env: 'prod' });
  const force = labeller({ labels: { 'call-id': 'static' }, overwrite: true });
  const q = packet('rtp', { 'call-id': 'from-sip', node: 'parser-said' });
  force.process(q);
  assert.deepEqual(q.labels, { 'call-id': 'static', node: 'edge-01' });
});

test('an empty parser value still counts as set; inherited keys do not', () => {
  const l = labeller({ labels: { env: 'prod', constructor: 'c' }, node: false });
  const p = packet('sip', { env: '' });
  l.process(p);
  assert.deepEqual(p.labels, { env: '', constructor: 'c' });
  assert.ok(Object.hasOwn(p.labels, 'constructor'));
});

test('numbers and booleans from YAML become strings', () => {
  const l = labeller({ labels: { rack: 12, canary: true }, node: false });
  const p = packet('sip', {});
  l.process(p);
  assert.deepEqual(p.labels, { rack: '12', canary: 'true' });
});

test('config errors name the field or the key', () => {
  const bad: [unknown, RegExp][] = [
    [{ labels: { Datacenter: 'x' } }, /processor label: config\.labels\.Datacenter: invalid label key "Datacenter"/],
    [{ labels: { '-dc': 'x' } }, /config\.labels\.-dc: invalid label key "-dc"/],
    [{ labels: { dc_1: 'x' } }, /config\.labels\.dc_1: invalid label key/],
    [{ labels: { dc: { nested: 1 } } }, /config\.labels\.dc: must be a string, number or boolean, not object/],
    [{ labels: { Dc: [1], ok: 1, Ab: 2 } }, /config\.labels\.Dc: invalid label key "Dc".*config\.labels\.Dc: must be.*config\.labels\.Ab: invalid label key "Ab"/],
    [{ labels: { dc: null } }, /config\.labels\.dc: /],
    [{ labels: ['dc'] }, /config\.labels: /],
    [{ node: 'yes' }, /config\.node: /],
    [{ overwrite: 1 }, /config\.overwrite: /],
    [{ label: { dc: 'x' } }, /config: .*label/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(
      () => new LabelProcessor().init(cfg as Record<string, unknown>, ctx),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      `${JSON.stringify(cfg)} should fail with ${re}`,
    );
  }
});
