import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envNameFor, loadGlobalConfig, resolveNodeIp } from '../../src/config/load-global.ts';
import { ConfigError } from '../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'otus-cfg-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('defaults when no file is given', () => {
  const { config } = loadGlobalConfig(null, {});
  assert.equal(config.otus.core.decoder.tunnel.vxlan, false);
  assert.equal(config.otus.core.decoder.ip_reassembly.timeout, 30);
  assert.equal(config.otus.command_channel.command_ttl, 300);
  assert.equal(config.otus.backpressure.reporter.send_timeout, 3);
  assert.ok(config.otus.node.hostname.length > 0);
  assert.equal(config.otus.command_channel.kafka.group_id, `otus-${config.otus.node.hostname}`);
});

test('a file overrides defaults, durations are parsed', () => {
  const p = file('a.yml', 'otus:\n  core:\n    decoder:\n      tunnel: { vxlan: true }\n      ip_reassembly: { timeout: 2m }\n');
  const { config } = loadGlobalConfig(p, {});
  assert.equal(config.otus.core.decoder.tunnel.vxlan, true);
  assert.equal(config.otus.core.decoder.tunnel.gre, false);
  assert.equal(config.otus.core.decoder.ip_reassembly.timeout, 120);
});

test('unknown keys and bad values are refused with the path of each field', () => {
  const p = file('bad.yml', 'otus:\n  core:\n    decoder:\n      tunnel: { vxlann: true }\n  log: { level: loud }\n');
  assert.throws(
    () => loadGlobalConfig(p, {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /otus\.core\.decoder\.tunnel/);
      assert.match(e.message, /vxlann/);
      assert.match(e.message, /otus\.log\.level/);
      assert.ok(e.message.startsWith(p));
      return true;
    },
  );
});

test('bad durations and bad YAML name the file and field', () => {
  const p = file('dur.yml', 'otus:\n  command_channel: { command_ttl: soon }\n');
  assert.throws(() => loadGlobalConfig(p, {}), /otus\.command_channel\.command_ttl: invalid duration "soon"/);
  const y = file('y.yml', 'otus: [unclosed\n');
  assert.throws(() => loadGlobalConfig(y, {}), /not valid YAML/);
  assert.throws(() => loadGlobalConfig(join(dir, 'missing.yml'), {}), /cannot read configuration/);
});

test('OTUS_* environment variables override every key', () => {
  assert.equal(envNameFor(['otus', 'log', 'outputs', 'file', 'rotation', 'max_size_mb']), 'OTUS_LOG_OUTPUTS_FILE_ROTATION_MAX_SIZE_MB');
  const p = file('e.yml', 'otus:\n  log: { level: warn }\n');
  const { config, envOverrides } = loadGlobalConfig(p, {
    OTUS_LOG_LEVEL: 'debug',
    OTUS_LOG_OUTPUTS_FILE_ROTATION_MAX_SIZE_MB: '200',
    OTUS_CORE_DECODER_TUNNEL_GENEVE: 'true',
    OTUS_NODE_IP: '10.1.2.3',
    OTUS_KAFKA_BROKERS: '[k1:9092, k2:9092]',
    OTUS_NODE_TAGS: '{dc: fra1}',
  });
  assert.equal(config.otus.log.level, 'debug');
  assert.equal(config.otus.log.outputs.file.rotation.max_size_mb, 200);
  assert.equal(config.otus.core.decoder.tunnel.geneve, true);
  assert.equal(config.otus.node.ip, '10.1.2.3');
  assert.deepEqual(config.otus.node.tags, { dc: 'fra1' });
  assert.equal(envOverrides.length, 6);
  // Kafka defaults are inherited by the command channel and the reporter (ADR-024).
  assert.deepEqual(config.otus.command_channel.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.deepEqual(config.otus.reporters.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.throws(() => loadGlobalConfig(null, { OTUS_LOG_LEVEL: 'chatty' }), /otus\.log\.level/);
});

test('${node.ip} in group_id is the detected address when none is configured', () => {
  const p = file('ip.yml', 'otus:\n  command_channel:\n    kafka: { group_id: "otus-${node.ip}-${node.hostname}" }\n');
  const { config } = loadGlobalConfig(p, {});
  // What the daemon would detect on this machine ('' where there is nothing: the daemon then refuses to start).
  const detected = resolveNodeIp(loadGlobalConfig(null, {}).config) ?? '';
  assert.equal(config.otus.node.ip, detected);
  assert.equal(config.otus.command_channel.kafka.group_id, `otus-${detected}-${config.otus.node.hostname}`);
  // A configured (or OTUS_NODE_IP) address is used as given.
  assert.equal(loadGlobalConfig(p, { OTUS_NODE_IP: '192.0.2.7' }).config.otus.command_channel.kafka.group_id, `otus-192.0.2.7-${config.otus.node.hostname}`);
});

test('explicit Kafka settings of a child are kept', () => {
  const p = file('k.yml', 'otus:\n  kafka: { brokers: [a:1] }\n  command_channel:\n    kafka: { brokers: [b:2] }\n');
  const { config } = loadGlobalConfig(p, {});
  assert.deepEqual(config.otus.command_channel.kafka.brokers, ['b:2']);
  assert.deepEqual(config.otus.reporters.kafka.brokers, ['a:1']);
});
