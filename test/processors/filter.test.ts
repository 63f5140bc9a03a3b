// Processor "filter": drop or pass by label values, prefixes, presence and protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import type { Labels, OutputPacket } from '../../src/core/output.ts';
import { lookupPlugin } from '../../src/plugin/registry.ts';
import { FilterProcessor } from '../../src/plugins/processor/index.ts';
import { ctx, packet } from './output-packets.ts';

function filter(config: Record<string, unknown>): FilterProcessor {
  const f = new FilterProcessor();
  f.init(config, ctx);
  return f;
}

const sip = (method: string, extra: Labels = {}) => packet('sip', { 'sip.method': method, 'sip.call-id': `c-${method}`, ...extra });
const sipResponse = (status: string) => packet('sip', { 'sip.status': status, 'sip.call-id': 'c-r' });

function survivors(f: FilterProcessor, pkts: OutputPacket[]): OutputPacket[] {
  return pkts.filter((p) => f.process(p));
}

test('registered as processor "filter"', () => {
  assert.ok(lookupPlugin('processor', 'filter')() instanceof FilterProcessor);
});

test('dropping SIP OPTIONS and REGISTER removes exactly those', () => {
  const f = filter({ mode: 'drop', rules: [{ label: 'sip.method', values: ['OPTIONS', 'REGISTER'] }] });
  const pkts = [
    sip('INVITE'),
    sip('OPTIONS'),
    sip('REGISTER'),
    sip('BYE'),
    sipResponse('200'),
    sip('options'), // methods are case-sensitive (RFC 3261): this is not OPTIONS
    sip('REGISTERX'),
    packet('rtp', { 'rtp.ssrc': '1', 'call-id': 'c-INVITE' }),
    packet('dns', { 'dns.query': 'OPTIONS' }),
  ];
  const kept = survivors(f, pkts);
  assert.deepEqual(
    pkts.filter((p) => !kept.includes(p)).map((p) => p.labels['sip.method']),
    ['OPTIONS', 'REGISTER'],
  );
  assert.equal(kept.length, pkts.length - 2);
});

test('the mode defaults to drop and match to any', () => {
  const f = filter({ rules: [{ label: 'sip.method', values: ['OPTIONS'] }, { label: 'sip.status', values: ['100'] }] });
  assert.equal(f.process(sip('OPTIONS')), false);
  assert.equal(f.process(sipResponse('100')), false);
  assert.equal(f.process(sipResponse('180')), true);
});

test('pass mode keeps only matching packets', () => {
  const f = filter({ mode: 'pass', rules: [{ label: 'sip.method', values: ['INVITE', 'BYE'] }] });
  assert.deepEqual(
    survivors(f, [sip('INVITE'), sip('OPTIONS'), sip('BYE'), sipResponse('200'), packet('raw', {})]).map((p) => p.labels['sip.method']),
    ['INVITE', 'BYE'],
  );
});

test('prefix, exists and protocol conditions', () => {
  const internal = filter({ mode: 'pass', rules: [{ label: 'dns.query', prefix: 'internal.' }] });
  assert.equal(internal.process(packet('dns', { 'dns.query': 'internal.corp' })), true);
  assert.equal(internal.process(packet('dns', { 'dns.query': 'www.internal.corp' })), false);
  assert.equal(internal.process(packet('dns', {})), false);

  const correlated = filter({ mode: 'pass', rules: [{ label: 'call-id' }] });
  assert.equal(correlated.process(packet('rtp', { 'call-id': 'x' })), true);
  assert.equal(correlated.process(packet('rtp', { 'rtp.ssrc': '5' })), false);
  assert.equal(correlated.process(packet('rtp', { 'call-id': '' })), true, 'an empty value is still present');

  const orphans = filter({ mode: 'drop', rules: [{ protocol: 'rtp', label: 'call-id', exists: false }] });
  assert.equal(orphans.process(packet('rtp', { 'rtp.ssrc': '5' })), false);
  assert.equal(orphans.process(packet('rtp', { 'call-id': 'x' })), true);
  assert.equal(orphans.process(packet('rtcp', {})), true, 'the protocol condition limits the rule');

  const noDns = filter({ rules: [{ protocol: 'dns' }] });
  assert.equal(noDns.process(packet('dns', { 'dns.id': '1' })), false);
  assert.equal(noDns.process(packet('sip', {})), true);
});

test('numbers in values are their text (YAML `values: [200]`)', () => {
  const f = filter({ rules: [{ label: 'sip.status', values: [100, 180] }] });
  assert.equal(f.process(sipResponse('100')), false);
  assert.equal(f.process(sipResponse('180')), false);
  assert.equal(f.process(sipResponse('200')), true);
});

test('match: all needs every rule', () => {
  const f = filter({
    mode: 'drop',
    match: 'all',
    rules: [
      { protocol: 'sip', label: 'sip.method', values: ['OPTIONS'] },
      { label: 'sip.user-agent', prefix: 'friendly-scanner' },
    ],
  });
  assert.equal(f.process(sip('OPTIONS', { 'sip.user-agent': 'friendly-scanner 1.0' })), false);
  assert.equal(f.process(sip('OPTIONS', { 'sip.user-agent': 'Linphone' })), true);
  assert.equal(f.process(sip('OPTIONS')), true);
  assert.equal(f.process(sip('INVITE', { 'sip.user-agent': 'friendly-scanner' })), true);
});

test('keys inherited from Object.prototype are not labels', () => {
  const f = filter({ mode: 'pass', rules: [{ label: 'constructor' }, { label: 'tostring', exists: true }] });
  assert.equal(f.process(packet('sip', {})), false);
  assert.equal(f.process(packet('sip', { constructor: 'x' })), true);
  const absent = filter({ mode: 'pass', rules: [{ label: 'constructor', exists: false }] });
  assert.equal(absent.process(packet('sip', {})), true);
});

test('process reads labels only and changes nothing', () => {
  const f = filter({ rules: [{ label: 'sip.method', values: ['OPTIONS'] }] });
  const p = sip('INVITE');
  const before = JSON.stringify(p.labels);
  // The payload throws if looked into.
  for (let i = 0; i < 1000; i++) f.process(p);
  assert.equal(JSON.stringify(p.labels), before);
});

test('config errors name the field', () => {
  const bad: [unknown, RegExp][] = [
    [{}, /processor filter: config\.rules: /],
    [{ rules: [] }, /config\.rules: at least one rule/],
    [{ mode: 'keep', rules: [{ label: 'a' }] }, /config\.mode: /],
    [{ match: 'some', rules: [{ label: 'a' }] }, /config\.match: /],
    [{ rules: [{ label: 'SIP.Method', values: ['X'] }] }, /config\.rules\.0\.label: must be a valid label key/],
    [{ rules: [{ label: 'sip.method', values: [] }] }, /config\.rules\.0\.values: at least one value/],
    [{ rules: [{ label: 'sip.method', value: ['X'] }] }, /config\.rules\.0: .*value/],
    [{ rules: [{ label: 'a' }, { values: ['X'] }] }, /config\.rules\.1\.label: a rule needs a label or a protocol/],
    [{ rules: [{ label: 'a', values: ['x'], prefix: 'y' }] }, /config\.rules\.0\.prefix: give values or prefix, not both/],
    [{ rules: [{ label: 'a', prefix: 'y', exists: false }] }, /config\.rules\.0\.exists: /],
    [{ rules: [{ protocol: 'sip', values: ['x'] }] }, /config\.rules\.0\.values: values needs a label/],
    [{ rules: [{ label: 'a' }], extra: 1 }, /config: .*extra/],
    [{ rules: [{ label: 'sip.status', values: ['200', null] }] }, /config\.rules\.0\.values\.1: must be a string/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(
      () => new FilterProcessor().init(cfg as Record<string, unknown>, ctx),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      `${JSON.stringify(cfg)} should fail with ${re}`,
    );
  }
});
