// Differential test of the SIP, RTP, RTCP and DNS parsers, through the whole
// pipeline, against tshark.
//
// Captures: test/captures/generated-calls (scripts/gen-call-captures.sh,
// regenerated when missing or older than the generators): real sipp calls
// recorded on loopback and the scapy cases (fragmented INVITEs over IPv4 and
// IPv6, compact headers, a re-INVITE moving media, VLAN and QinQ, VXLAN, RTCP
// compound packets, DNS compression, OPTIONS/REGISTER), plus the project's
// sample. The `malformed-*` files are for the counter tests, not here.
//
// For each capture `bin/otus run` (default parsers, unmatched traffic
// forwarded as raw, VXLAN decapsulation on through a --config file) runs with
// 1, 2 and 4 workers, and tshark dissects the file (call-oracle.ts). For
// every frame tshark shows as sip, rtp, rtcp or dns, Otus must report
// exactly one record of that protocol with the same method, status code and
// Call-ID (SIP), SSRC and payload type (RTP), packet types and first SSRC
// (RTCP), id, query name and type (DNS); every RTP and RTCP record must carry
// the Call-ID of the call that announced its media. Otus may not report one
// of these protocols for a frame tshark does not. The three runs must write
// the same records (sorted by frame: workers finish in any order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oracle, RTCP_TYPE_NUMBERS, type OracleFrame } from './call-oracle.ts';
import { clip, ensureCallCaptures, pool, runOtus, SAMPLE, tsharkAvailable, VXLAN_CONFIG, type OtusRecord } from './e2e-helpers.ts';

const WORKERS = [1, 2, 4];

interface Case {
  name: string;
  path: string;
}

function cases(dir: string): Case[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.pcap') && !f.startsWith('malformed-'))
    .sort()
    .map((f) => ({ name: f, path: join(dir, f) }));
  return [...files, { name: 'sample sip-call.pcap', path: SAMPLE }];
}

/** What each case must contain for tshark, or the comparison would test less than it claims. */
function oracleProblems(c: Case, frames: OracleFrame[]): string[] {
  const p: string[] = [];
  const count = (x: string) => frames.filter((f) => f.proto === x).length;
  const need = (what: string, ok: boolean) => {
    if (!ok) p.push(`${c.name}: tshark shows no ${what}`);
  };
  if (c.name.startsWith('call-') || c.name.startsWith('sipp') || c.name.startsWith('sample')) {
    need('SIP', count('sip') >= 4);
    need('RTP', count('rtp') >= 4);
    need('RTCP', count('rtcp') >= 1);
  }
  if (c.name.startsWith('dns') || c.name.startsWith('sipp')) need('DNS', count('dns') >= 4);
  if (c.name.includes('frag')) need('SIP INVITE in a reassembled datagram', frames.some((f) => f.sip?.method === 'INVITE' && f.protocols.includes('ip')));
  if (c.name.includes('vxlan')) need('SIP inside VXLAN', frames.some((f) => f.proto === 'sip' && f.protocols.includes('vxlan')));
  if (c.name.includes('vlan')) need('SIP inside a VLAN', frames.some((f) => f.proto === 'sip' && f.protocols.includes('vlan')));
  if (c.name.includes('rtcp-compound')) {
    for (const t of [200, 201, 202, 203, 204, 207]) need(`RTCP packet type ${t}`, frames.some((f) => f.rtcp?.types.includes(t)));
  }
  if (c.name.includes('reinvite')) need('two INVITEs', frames.filter((f) => f.sip?.method === 'INVITE').length === 2);
  if (c.name.includes('options')) need('OPTIONS and REGISTER', ['OPTIONS', 'REGISTER'].every((m) => frames.some((f) => f.sip?.method === m)));
  for (const f of frames) {
    if ((f.proto === 'rtp' || f.proto === 'rtcp') && f.callId === null) p.push(`${c.name} frame ${f.frame}: ${f.proto} that no SDP announced`);
  }
  return p;
}

function compare(c: Case, frames: OracleFrame[], records: OtusRecord[]): string[] {
  const bad: string[] = [];
  const say = (frame: number, what: string, otus: unknown, tshark: unknown) =>
    bad.push(`${c.name} frame ${frame}: ${what}: otus=${JSON.stringify(otus)} tshark=${JSON.stringify(tshark)}`);
  const byFrame = new Map<number, OtusRecord[]>();
  for (const r of records) {
    const l = byFrame.get(r.frame) ?? [];
    l.push(r);
    byFrame.set(r.frame, l);
  }
  for (const f of frames) {
    const app = (byFrame.get(f.frame) ?? []).filter((r) => r.protocol !== 'raw');
    if (f.proto === null) {
      if (app.length) say(f.frame, `record protocol (tshark: ${f.protocols})`, app.map((r) => r.protocol), null);
      continue;
    }
    if (app.length !== 1 || app[0]!.protocol !== f.proto) {
      say(f.frame, 'protocol', app.map((r) => r.protocol), f.proto);
      continue;
    }
    const r = app[0]!;
    const l = r.labels;
    const eq = (what: string, o: unknown, t: unknown) => {
      if (JSON.stringify(o) !== JSON.stringify(t)) say(f.frame, what, o, t);
    };
    if (f.sip) {
      eq('sip.method', l['sip.method'] ?? null, f.sip.method);
      eq('sip.status', l['sip.status'] ?? null, f.sip.status);
      eq('sip.call-id', l['sip.call-id'], f.sip.callId);
    }
    if (f.rtp) {
      eq('rtp.ssrc', l['rtp.ssrc'], f.rtp.ssrc);
      eq('rtp.pt', l['rtp.pt'], f.rtp.pt);
    }
    if (f.rtcp) {
      const pkts = ((r.payload?.['packets'] as { type: string }[] | undefined) ?? []).map((p) => RTCP_TYPE_NUMBERS[p.type] ?? p.type);
      eq('rtcp packet types', pkts, f.rtcp.types);
      eq('rtcp.ssrc', l['rtcp.ssrc'], f.rtcp.ssrc);
    }
    if (f.dns) {
      eq('dns.id', l['dns.id'], f.dns.id);
      eq('dns.query', l['dns.query'], f.dns.query);
      eq('dns.type', l['dns.type'], f.dns.type);
    }
    if (f.proto === 'rtp' || f.proto === 'rtcp') eq('call-id', l['call-id'] ?? null, f.callId);
  }
  const known = new Set(frames.map((f) => f.frame));
  for (const fr of byFrame.keys()) if (!known.has(fr)) say(fr, 'record for a frame tshark does not have', fr, null);
  return bad;
}

/** Records as text, sorted by frame (then by text: one frame may give several). */
function sortedLines(lines: string[]): string[] {
  return lines
    .map((l) => ({ l, f: (JSON.parse(l) as OtusRecord).frame }))
    .sort((a, b) => a.f - b.f || (a.l < b.l ? -1 : a.l > b.l ? 1 : 0))
    .map((x) => x.l);
}

test('SIP, RTP, RTCP and DNS agree with tshark on real and generated calls, with 1, 2 and 4 workers', { timeout: 300_000 }, async (t) => {
  if (!tsharkAvailable()) {
    t.skip('tshark is not installed (scripts/setup.sh installs it): no oracle');
    return;
  }
  const dir = ensureCallCaptures();
  const all = cases(dir);
  assert.ok(all.length >= 10, `expected the generated call captures in ${dir}, found ${all.length - 1}`);
  const tmp = mkdtempSync(join(tmpdir(), 'otus-call-diff-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const cfg = join(tmp, 'config.yml');
  writeFileSync(cfg, VXLAN_CONFIG);

  const jobs = all.flatMap((c) => WORKERS.map((w) => ({ c, w })));
  const runs = await pool(jobs, 3, async ({ c, w }) => {
    const out = join(tmp, `${c.name}.w${w}.jsonl`);
    return { c, w, r: await runOtus(['--pcap', c.path, '--config', cfg, '--workers', String(w)], out) };
  });
  const oracles = new Map(all.map((c) => [c.name, oracle(c.path)]));

  await t.test('tshark sees each case as intended', () => {
    const problems = all.flatMap((c) => oracleProblems(c, oracles.get(c.name)!));
    assert.deepEqual(problems, []);
  });

  for (const c of all) {
    await t.test(c.name, () => {
      const mine = runs.filter((x) => x.c === c);
      for (const { w, r } of mine) {
        assert.equal(r.code, 0, `otus run --workers ${w} on ${c.name} failed: ${clip(r.stderr)}`);
        assert.equal(r.summary?.workers, w, `otus run --workers ${w} ran ${r.summary?.workers} workers`);
      }
      const frames = oracles.get(c.name)!;
      const first = mine[0]!;
      const lines = compare(c, frames, first.r.records);
      assert.deepEqual(lines, [], `${lines.length} mismatch(es) with tshark (--workers ${first.w}):\n  ${lines.join('\n  ')}`);
      const ref = sortedLines(first.r.lines);
      for (const { w, r } of mine.slice(1)) {
        const got = sortedLines(r.lines);
        const diff = got.findIndex((l, i) => l !== ref[i]);
        assert.ok(
          got.length === ref.length && diff < 0,
          `--workers ${w} differs from --workers ${first.w}: ${got.length} vs ${ref.length} records` +
            (diff >= 0 ? `; first difference:\n  ${got[diff]}\n  ${ref[diff]}` : ''),
        );
      }
    });
  }
});
