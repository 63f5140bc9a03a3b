// Where every captured packet went, checked on the --stats-json summary of
// `bin/otus run` for real and generated captures (a damaged file, malformed
// SIP/SDP/RTP/RTCP/DNS, IP fragments, a tunnel left undecoded), with
// unmatched_policy forward and drop:
//   captured = decode errors + fragments held + unmatched dropped
//              + parser no-result + filtered + emitted
//   emitted  = sent + send-buffer drops, per reporter lane
//   sent     = reported + reporter drops; reported = lines in the file
// and, per parser, packets handled = records of its protocol + packets it
// could not turn into a record (its rejections, counted by reason).
// Also: a filter processor dropping OPTIONS and REGISTER removes exactly
// those records, as many as tshark counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oracle } from './call-oracle.ts';
import { clip, ensureCallCaptures, pool, runOtus, SAMPLE, tsharkAvailable, type OtusRun, type Summary } from './e2e-helpers.ts';

const PARSERS = ['sip', 'rtcp', 'rtp', 'dns'];

function taskYaml(id: string, file: string, policy: 'forward' | 'drop', processors = ''): string {
  return [
    `id: ${id}`,
    'workers: 2',
    `capture: { name: pcap, file: ${JSON.stringify(file)} }`,
    `parsers: [${PARSERS.map((p) => `{ name: ${p} }`).join(', ')}]`,
    processors,
    'reporters: [{ name: console }]',
    `unmatched_policy: ${policy}`,
    '',
  ].join('\n');
}

const sum = (m: Record<string, number> | undefined) => Object.values(m ?? {}).reduce((a, b) => a + b, 0);

/** Packets a parser handled without producing a record: what its stats say it refused. */
function noResult(parser: string, st: Record<string, number>): number {
  if (parser === 'rtp') return Object.entries(st).filter(([k]) => k.startsWith('malformed_')).reduce((a, [, v]) => a + v, 0);
  return (st['rejected'] ?? 0) + (st['keepalives'] ?? 0);
}

/** Every way the counters must add up; returns the ones that do not. */
function ledger(name: string, r: OtusRun): string[] {
  const s = r.summary as Summary;
  const bad: string[] = [];
  const eq = (what: string, a: number, b: number) => {
    if (a !== b) bad.push(`${name}: ${what}: ${a} != ${b}`);
  };
  const c = s.pipelines.counters;
  const n = (k: string) => c[k] ?? 0;
  eq('captured = received + channel drops', s.capture.packets, n('received') + s.capture.channelDrops);
  eq(
    'received = decode_dropped + fragments_held + unmatched_dropped + parser_no_result + filtered + emitted',
    n('received'),
    n('decode_dropped') + n('fragments_held') + n('unmatched_dropped') + n('parser_no_result') + n('filtered') + n('emitted'),
  );
  eq('decode_dropped = decode errors by reason', n('decode_dropped'), sum(s.pipelines.decodeErrors));
  for (const l of s.sender) eq(`emitted = sent + buffer drops + queued (${l.name})`, n('emitted'), l.sent + l.bufferDrops + l.queued);
  for (const [i, rep] of s.reporters.entries()) {
    eq(`sent = reported + drops (${rep.name})`, s.sender[i]!.sent, rep.reported + rep.timeoutDrops + rep.errorDrops);
  }
  eq('reported = records written', s.reporters[0]!.reported, r.lines.length);
  eq('unmatched_forwarded = raw records', n('unmatched_forwarded'), r.records.filter((x) => x.protocol === 'raw').length);
  let refused = 0;
  for (const p of PARSERS) {
    const st = s.pipelines.parserStats[p] ?? {};
    refused += noResult(p, st);
    if (n('filtered') === 0) {
      eq(`${p}: handled = records + refused`, s.pipelines.parsed[p] ?? 0, r.records.filter((x) => x.protocol === p).length + noResult(p, st));
    }
  }
  eq('parser_no_result = what the parsers refused', n('parser_no_result'), refused);
  return bad;
}

test('the counters add up, malformed input is counted by reason, a damaged file ends cleanly', { timeout: 240_000 }, async (t) => {
  const dir = ensureCallCaptures();
  const tmp = mkdtempSync(join(tmpdir(), 'otus-counters-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const files = ['sipp-calls.pcap', 'call-frag-ipv4.pcap', 'call-frag-ipv6.pcap', 'call-vxlan.pcap', 'malformed-mixed.pcap', 'malformed-damaged.pcap'].map((f) =>
    join(dir, f),
  );
  files.push(SAMPLE);
  const jobs = files.flatMap((f) => (['forward', 'drop'] as const).map((policy) => ({ f, policy })));
  const runs = await pool(jobs, 2, async ({ f, policy }) => {
    const base = `${f.split('/').pop()}.${policy}`;
    const task = join(tmp, `${base}.yml`);
    writeFileSync(task, taskYaml('counters', f, policy));
    return { f, policy, name: `${base}`, r: await runOtus(['--task', task], join(tmp, `${base}.jsonl`)) };
  });

  for (const { name, r, f, policy } of runs) {
    await t.test(name, () => {
      const damaged = f.endsWith('malformed-damaged.pcap');
      assert.ok(r.summary, `no --stats-json summary from ${name}: ${clip(r.stderr)}`);
      assert.equal(r.code, damaged ? 1 : 0, clip(r.stderr));
      assert.deepEqual(ledger(name, r), []);
      const c = r.summary.pipelines.counters;
      if (policy === 'drop') assert.equal(r.records.filter((x) => x.protocol === 'raw').length, 0, 'drop policy: no raw records');
      if (f.endsWith('call-vxlan.pcap')) {
        // VXLAN decapsulation is off by default: the outer UDP datagrams are unmatched
        assert.equal(c[policy === 'drop' ? 'unmatched_dropped' : 'unmatched_forwarded'], r.summary.capture.packets);
      }
      if (f.includes('frag')) assert.ok((c['fragments_held'] ?? 0) > 0, 'fragments held');
      if (damaged) {
        assert.match(r.summary.error ?? '', /malformed-damaged\.pcap: at byte offset \d+: truncated record/);
        assert.equal(r.summary.capture.packets, 19, 'the 19 whole records before the cut');
        assert.equal(c['emitted'], 19, 'all of them SIP, RTP or RTCP');
      }
    });
  }

  await t.test('malformed SIP, SDP, RTP, RTCP and DNS are counted by reason; the call around them is intact', () => {
    const { r } = runs.find((x) => x.f.endsWith('malformed-mixed.pcap') && x.policy === 'forward')!;
    const st = r.summary!.pipelines.parserStats;
    const pick = (p: string, keys: string[]) => Object.fromEntries(keys.map((k) => [k, st[p]?.[k]]));
    assert.deepEqual(pick('sip', ['malformed_bad_start_line', 'malformed_missing_call_id', 'malformed_truncated_body', 'malformed_sdp_bad_media', 'rejected', 'partial']), {
      malformed_bad_start_line: 1,
      malformed_missing_call_id: 1,
      malformed_truncated_body: 1,
      malformed_sdp_bad_media: 1,
      rejected: 2,
      partial: 2,
    });
    assert.deepEqual(pick('rtp', ['malformed_too_short', 'malformed_bad_version']), { malformed_too_short: 1, malformed_bad_version: 1 });
    assert.deepEqual(pick('rtcp', ['malformed_bad_length', 'rejected']), { malformed_bad_length: 1, rejected: 1 });
    assert.deepEqual(pick('dns', ['malformed_pointer_forward', 'malformed_truncated', 'rejected']), {
      malformed_pointer_forward: 1,
      malformed_truncated: 1,
      rejected: 2,
    });
    // the 3-byte datagram to port 53 is shorter than a DNS header: not DNS, forwarded raw
    assert.equal(r.records.filter((x) => x.protocol === 'raw').length, 1);
    // the call goes on: RTP after the damage still carries its call, and the BYE is parsed
    const good = 'good-call-1@192.0.2.60';
    const rtp = r.records.filter((x) => x.protocol === 'rtp');
    assert.equal(rtp.length, 10);
    assert.ok(rtp.every((x) => x.labels['call-id'] === good));
    assert.ok(r.records.some((x) => x.labels['sip.method'] === 'BYE' && x.labels['sip.call-id'] === good));
    // the partial messages are still reported, flagged
    const info = r.records.find((x) => x.labels['sip.method'] === 'INFO');
    assert.ok(info && Array.isArray(info.payload?.['errors']) && (info.payload['errors'] as unknown[]).length > 0, 'INFO with a short body: reported with its error');
  });
});

test('a filter dropping OPTIONS and REGISTER removes exactly those records', { timeout: 120_000 }, async (t) => {
  const dir = ensureCallCaptures();
  const file = join(dir, 'sip-options-register.pcap');
  const tmp = mkdtempSync(join(tmpdir(), 'otus-filter-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const filter = `processors:
  - name: filter
    config: { mode: drop, rules: [{ label: sip.method, values: [OPTIONS, REGISTER] }] }`;
  writeFileSync(join(tmp, 'plain.yml'), taskYaml('unfiltered', file, 'forward'));
  writeFileSync(join(tmp, 'filter.yml'), taskYaml('filtered', file, 'forward', filter));
  const [plain, filtered] = await Promise.all([
    runOtus(['--task', join(tmp, 'plain.yml')], join(tmp, 'plain.jsonl')),
    runOtus(['--task', join(tmp, 'filter.yml')], join(tmp, 'filter.jsonl')),
  ]);
  assert.equal(plain.code, 0, clip(plain.stderr));
  assert.equal(filtered.code, 0, clip(filtered.stderr));

  const dropped = (l: string) => {
    const m = (JSON.parse(l) as { labels: Record<string, string> }).labels['sip.method'];
    return m === 'OPTIONS' || m === 'REGISTER';
  };
  const strip = (l: string) => l.replace(/"task":"[^"]*",/, ''); // the task id differs
  const byFrame = (a: string, b: string) => (JSON.parse(a) as { frame: number }).frame - (JSON.parse(b) as { frame: number }).frame;
  const expected = plain.lines.filter((l) => !dropped(l)).map(strip).sort(byFrame);
  const got = filtered.lines.map(strip).sort(byFrame);
  assert.deepEqual(got, expected);
  const removed = plain.lines.length - filtered.lines.length;
  assert.equal(filtered.summary?.pipelines.counters['filtered'], removed);
  assert.deepEqual(ledger('filtered', filtered), []);
  // Responses to OPTIONS and REGISTER have no sip.method: they stay.
  assert.ok(filtered.records.some((x) => /OPTIONS|REGISTER/.test(x.labels['sip.cseq'] ?? '') && x.labels['sip.status'] === '200'));
  if (tsharkAvailable()) {
    const want = oracle(file).filter((f) => f.sip?.method === 'OPTIONS' || f.sip?.method === 'REGISTER').length;
    assert.equal(removed, want, 'records removed = OPTIONS and REGISTER requests tshark counts');
    assert.equal(want, 10);
  }
});
