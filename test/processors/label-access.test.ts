// Label reads and writes by names fixed at configuration (generated
// functions), and their generic forms where code generation is disabled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generatedAccess, labelReader, labelWriter } from '../../src/core/label-access.ts';
import type { Labels } from '../../src/core/output.ts';

test('code generation is used where node allows it', () => {
  assert.equal(generatedAccess, true);
});

test('a reader returns the label or undefined, whatever the key spells', () => {
  const labels: Labels = { 'sip.method': 'INVITE', 'call-id': 'abc', 'a"b\\c': 'odd' };
  assert.equal(labelReader('sip.method')(labels), 'INVITE');
  assert.equal(labelReader('call-id')(labels), 'abc');
  assert.equal(labelReader('a"b\\c')(labels), 'odd');
  assert.equal(labelReader('sip.status')(labels), undefined);
  // Inherited keys read as what they are (the filter tests typeof === 'string').
  assert.equal(typeof labelReader('constructor')(labels), 'function');
  // One reader serves label objects of any shape.
  const r = labelReader('codec');
  assert.equal(r({ codec: 'PCMA' }), 'PCMA');
  assert.equal(r({ 'rtp.ssrc': '1', codec: 'PCMU' }), 'PCMU');
  assert.equal(r({}), undefined);
});

test('a writer sets missing labels, keeps set ones unless overwriting, and treats inherited keys as unset', () => {
  const keep = labelWriter(['node', 'constructor', 'dc'], ['edge-1', 'c', 'fra1'], false);
  const a: Labels = { node: 'parser-said', dc: '' };
  keep(a);
  assert.deepEqual(a, { node: 'parser-said', dc: '', constructor: 'c' });
  const over = labelWriter(['node', 'dc'], ['edge-1', 'fra1'], true);
  const b: Labels = { node: 'parser-said' };
  over(b);
  assert.deepEqual(b, { node: 'edge-1', dc: 'fra1' });
  const none = labelWriter([], [], false);
  const c: Labels = { x: 'y' };
  none(c);
  assert.deepEqual(c, { x: 'y' });
  assert.throws(() => labelWriter(['a'], [], false), /differ in length/);
});

test('with code generation disabled the generic forms run and the processors behave the same', () => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const probe = spawnSync(
    process.execPath,
    ['--disallow-code-generation-from-strings', '--input-type=module', '-e', `import { generatedAccess } from ${JSON.stringify(new URL('../../src/core/label-access.js', import.meta.url).href)}; process.stdout.write(String(generatedAccess));`],
    { encoding: 'utf8' },
  );
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout, 'false');
  // The processors' own tests (and this file's reader/writer tests, bar the first) under that flag.
  const run = spawnSync(
    process.execPath,
    ['--disallow-code-generation-from-strings', '--test', '--test-reporter=dot', `${here}label.test.js`, `${here}filter.test.js`],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
