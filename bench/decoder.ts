// Benchmark (issue 2): the core decoder's throughput on one core over a mixed
// capture held in memory, beside tshark -r and tcpdump -r ... -w /dev/null on
// the same file, measured in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodedPacket, LinkType, newRawPacket, type RawPacket } from '../src/core/packet.ts';
import { Decoder } from '../src/decoder/decoder.ts';
import { defaultDecoderConfig } from '../src/decoder/api.ts';
import { readCaptureFile } from '../src/plugins/capture/pcap/capture-reader.ts';
import type { BenchSection } from './report.ts';
import { writeMixedCapture } from './mixed-capture.ts';
import { have, timeCommand } from './peers.ts';

const BLOCKS = Number(process.env['OTUS_BENCH_DECODER_BLOCKS'] ?? 2000); // x100 packets
const SECONDS = Number(process.env['OTUS_BENCH_SECONDS'] ?? 3);

export async function run(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'otus-bench-decoder-'));
  try {
    const file = join(dir, 'mixed.pcap');
    writeMixedCapture(file, BLOCKS);
    // Held in memory, read back through our own reader as a capture would deliver it.
    const pkts: RawPacket[] = [];
    await readCaptureFile(file, (p) => {
      const c = newRawPacket();
      c.data = p.data.slice();
      c.origLen = p.origLen;
      c.tsSec = p.tsSec;
      c.tsNsec = p.tsNsec;
      c.linkType = LinkType.ETHERNET;
      pkts.push(c);
    });
    const n = pkts.length;
    const cfg = defaultDecoderConfig();
    cfg.tunnel.vxlan = true;
    const out = new DecodedPacket();
    // Passes over the capture until SECONDS have gone; a fresh decoder per pass
    // so each pass reassembles its fragments as the first did.
    let dec = new Decoder(cfg);
    for (let i = 0; i < n; i++) dec.decode(pkts[i]!, out); // warm-up pass
    let done = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < SECONDS * 1000) {
      dec = new Decoder(cfg);
      for (let i = 0; i < n; i++) dec.decode(pkts[i]!, out);
      done += n;
      t = performance.now();
    }
    const pps = done / ((t - t0) / 1000);
    const s = dec.stats;
    const section: BenchSection = {
      title: `decoder: one core, mixed capture in memory (${n.toLocaleString('en-US')} packets, ${((s.reassembled / n) * 100).toFixed(0)}% reassembled datagrams, VXLAN on)`,
      rows: [{ name: 'otus decoder', value: pps, unit: 'pkt/s', note: `decode() only, ${(1e9 / pps).toFixed(0)} ns/pkt` }],
      skipped: [],
    };
    if (have('tshark', '-v')) {
      const r = timeCommand('tshark', ['-n', '-r', file], 1);
      if (r.ok) {
        section.rows.push({ name: 'tshark -n -r FILE', value: n / r.seconds, unit: 'pkt/s', note: 'full dissection and summary line per packet, incl. process start' });
        section.rows.push({ name: 'otus / tshark', value: pps / (n / r.seconds), unit: 'ratio' });
      } else section.skipped!.push(r.why!);
    } else section.skipped!.push('tshark: not installed (scripts/setup.sh installs it)');
    if (have('tcpdump')) {
      const r = timeCommand('tcpdump', ['-n', '-r', file, '-w', '/dev/null'], 3);
      if (r.ok) {
        section.rows.push({ name: 'tcpdump -r FILE -w /dev/null', value: n / r.seconds, unit: 'pkt/s', note: 'read and write back, no decoding; incl. process start' });
        section.rows.push({ name: 'otus / tcpdump', value: pps / (n / r.seconds), unit: 'ratio' });
      } else section.skipped!.push(r.why!);
    } else section.skipped!.push('tcpdump: not installed');
    return section;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
