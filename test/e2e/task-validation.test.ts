// Task files with unknown keys or bad values are refused, through the CLI a
// user runs (`otus validate --task`, `otus run --task`), with the path of
// every offending field; a valid one passes both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTUS, run, SAMPLE } from './e2e-helpers.ts';

const GOOD = `id: good
workers: 1
capture: { name: pcap, file: ${JSON.stringify(SAMPLE)} }
parsers: [{ name: sip }, { name: rtcp }, { name: rtp, config: { heuristic: false } }, { name: dns }]
processors:
  - name: filter
    config: { mode: drop, rules: [{ label: sip.method, values: [OPTIONS, REGISTER] }] }
  - name: label
    config: { labels: { site: lab } }
reporters: [{ name: console, config: { format: json } }]
unmatched_policy: drop
`;

/** [case, task text, field paths the error must name] */
const BAD: [string, string, string[]][] = [
  ['unknown top-level key', GOOD + 'workerz: 2\n', ['(root): Unrecognized key: "workerz"']],
  ['unknown key in a plugin reference', GOOD.replace('{ name: dns }', '{ name: dns, confg: {} }'), ['parsers.3: Unrecognized key: "confg"']],
  ['bad values', GOOD.replace('workers: 1', 'workers: -1').replace('unmatched_policy: drop', 'unmatched_policy: maybe'), ['workers:', 'unmatched_policy:']],
  ['unknown capture key', GOOD.replace('{ name: pcap,', '{ name: pcap, snaplen: 96,'), ['capture: Unrecognized key: "snaplen"']],
  ['no reporter', GOOD.replace(/reporters: .*\n/, 'reporters: []\n'), ['reporters: at least one reporter']],
  ['bad parser config', GOOD.replace('heuristic: false', 'heuristic: maybe'), ['parsers.2.config.heuristic:']],
  ['unknown parser config key', GOOD.replace('heuristic: false', 'heuristik: true'), ['parsers.2.config: Unrecognized key: "heuristik"']],
  ['bad processor config', GOOD.replace('values: [OPTIONS, REGISTER]', 'values: []'), ['processors.0.config.rules.0.values:']],
  ['unknown processor config key', GOOD.replace('mode: drop,', 'mode: drop, modes: x,'), ['processors.0.config: Unrecognized key: "modes"']],
  ['bad reporter config', GOOD.replace('format: json', 'format: yaml'), ['reporters.0.config.format:']],
  ['unknown plugin', GOOD.replace('{ name: dns }', '{ name: dnz }'), ['dnz']],
  ['not YAML', 'id: [unclosed\n', ['not valid YAML/JSON']],
  ['a BPF filter on a file', GOOD.replace('{ name: pcap,', '{ name: pcap, bpf_filter: udp,'), ['capturer pcap: capture.config.bpf_filter: BPF filters are not supported']],
  ['unknown pcap config key', GOOD.replace('{ name: pcap,', '{ name: pcap, config: { snaplen: 96 },'), ['capturer pcap: capture.config: Unrecognized key: "snaplen"']],
  // Refused before any socket opens, by validate and by run, in both modes; in
  // binding mode the worker's error reaches the user as the capturer's own.
  ...(['dispatch', 'binding'] as const).map((mode): [string, string, string[]] => [
    `bad afpacket config (${mode} mode)`,
    GOOD.replace(/capture: .*\n/, `capture: { name: afpacket, interface: lo, dispatch_mode: ${mode}, config: { block_size: 12288 } }\n`).replace('workers: 1', 'workers: 2'),
    ['capturer afpacket: capture.config.block_size: must be a power of two'],
  ]),
];

test('otus validate and otus run refuse bad task files naming the field', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(OTUS));
  const tmp = mkdtempSync(join(tmpdir(), 'otus-task-validation-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  await t.test('a valid task passes validate and runs', async () => {
    const f = join(tmp, 'good.yml');
    writeFileSync(f, GOOD);
    const v = await run(OTUS, ['validate', '--task', f]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /valid task "good"/);
    const r = await run(OTUS, ['run', '--task', f, '--no-progress']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').filter((l) => l.startsWith('{')).length > 200, 'records on stdout');
    assert.ok(r.stdout.includes('"site":"lab"'), 'the label processor ran');
  });

  for (const [name, text, fields] of BAD) {
    await t.test(name, async () => {
      const f = join(tmp, `${name.replace(/\W+/g, '-')}.yml`);
      writeFileSync(f, text);
      for (const args of [
        ['validate', '--task', f],
        ['run', '--task', f, '--no-progress'],
      ]) {
        const r = await run(OTUS, args);
        assert.equal(r.code, 2, `otus ${args[0]}: exit ${r.code}\n${r.stderr}`);
        assert.equal(r.stdout.trim(), '', `otus ${args[0]} wrote output for a bad task`);
        for (const field of fields) assert.ok(r.stderr.includes(field), `otus ${args[0]} does not name "${field}": ${r.stderr}`);
        if (fields.some((f) => f.startsWith('capturer '))) assert.doesNotMatch(r.stderr, /pipeline \d+:/, 'a capturer error is not dressed as a pipeline error');
        assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, 'a message, not a stack trace');
      }
    });
  }
});
