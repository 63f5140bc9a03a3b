import { test } from 'node:test';
import assert from 'node:assert/strict';
import { knownPlugins, lookupPlugin, registerPlugin } from '../../src/plugin/registry.ts';
import '../../src/plugins/index.ts';

test('built-in plugins are registered per kind', () => {
  assert.ok(knownPlugins('capturer').includes('pcap'));
  assert.ok(knownPlugins('reporter').includes('console'));
  assert.ok(knownPlugins('reporter').includes('file'));
});

test('a duplicate name is an error at registration', () => {
  assert.throws(() => registerPlugin('reporter', 'console', () => ({}) as never), /registered twice/);
});

test('the same name may exist in two kinds', () => {
  registerPlugin('processor', 'console', () => ({}) as never);
  assert.ok(knownPlugins('processor').includes('console'));
});

test('an unknown name lists the known ones', () => {
  assert.throws(() => lookupPlugin('reporter', 'kafak'), /unknown reporter "kafak"; known reporters: .*console.*file/);
});
