// Line batches (lines-only tasks: file and console reporters) cross from the
// workers to the main thread in buffers that go back to their worker once
// written, and are written into again. With batches of 8 records a run of
// 12,200 packets reuses those buffers well over a thousand times while the
// file reporter still writes earlier ones: every record must come out whole,
// once, and the same as with one worker and the default batch size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCallCapture } from '../../bench/call-capture.ts';
import { clip, runOtus, type OtusRun } from './e2e-helpers.ts';

const config = (batch: number) => `otus:
  resources:
    max_workers: 8
  backpressure:
    send_buffer:
      batch_size: ${batch}
`;

test('records written through reused batch buffers are complete and equal to a one-worker run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otus-line-batches-'));
  try {
    const pcap = join(dir, 'calls.pcap');
    const packets = writeCallCapture(pcap, 40, 150);
    const small = join(dir, 'small.yml');
    const usual = join(dir, 'usual.yml');
    writeFileSync(small, config(8));
    writeFileSync(usual, config(512));
    const runs: [string, string, number][] = [
      ['usual-1', usual, 1],
      ['small-2', small, 2],
      ['small-1', small, 1],
    ];
    const out: Record<string, OtusRun> = {};
    for (const [name, cfg, workers] of runs) {
      const r = await runOtus(['--pcap', pcap, '--config', cfg, '--workers', String(workers)], join(dir, `${name}.json`), 120_000);
      assert.equal(r.code, 0, clip(r.stderr));
      out[name] = r;
    }
    const reference = out['usual-1']!;
    assert.equal(reference.records.length, packets, 'one record per packet');
    const frames = reference.records.map((r) => r.frame).sort((a, b) => a - b);
    assert.deepEqual(frames, Array.from({ length: packets }, (_, i) => i + 1), 'every frame once');
    const sorted = (r: OtusRun) => [...r.lines].sort();
    for (const name of ['small-2', 'small-1']) {
      const r = out[name]!;
      assert.equal(r.summary?.reporters[0]?.reported, packets, `${name}: reported`);
      assert.deepEqual(sorted(r), sorted(reference), `${name}: the same records, byte for byte`);
    }
    // One worker keeps capture order in its file.
    assert.deepEqual(out['small-1']!.lines, reference.lines);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
