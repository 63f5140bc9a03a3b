// Binding mode end to end: `otus run --interface` inside a throwaway network
// namespace, every pipeline worker owning an AF_PACKET socket in one fan-out
// group, fed by tcpreplay (or sipp) from the other end of a veth pair.
// Checked against the offline run of the same files, against tcpdump, and
// against the call sipp made. Needs root, tcpreplay, tcpdump and sipp; skips
// otherwise. Every namespace is removed, even on failure (withVethPair).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { netnsSkipReason, nsExec, nsIp, withVethPair, type VethPair } from '../helpers/netns.ts';
import { ethernetTestCaptures, missingFrom, offlineRecords, ROOT, runLive, type LiveRecord } from './live-run.ts';
import { readPcapFrames } from './afpacket-frames.ts';
import { until as waitUntil } from '../helpers/until.ts';

const execFileP = promisify(execFile);
const skip = netnsSkipReason('tcpreplay', 'tcpdump', 'mergecap');
const work = mkdtempSync(join(tmpdir(), 'otus-bind-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const SAMPLE = join(ROOT, 'samples/sip-call.pcap');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No stack trace in what a user sees. */
function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at .+\(.+:\d+:\d+\)/, `no stack trace:\n${stderr}`);
  assert.doesNotMatch(stderr, /internal error/);
}

function writeTask(name: string, body: object): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

function task(iface: string, workers: number, extra: { filter?: string; fanout?: object } = {}): object {
  return {
    id: 'bind',
    workers,
    capture: {
      name: 'afpacket',
      dispatch_mode: 'binding',
      interface: iface,
      ...(extra.filter ? { bpf_filter: extra.filter } : {}),
      config: extra.fanout ? { fanout: extra.fanout } : {},
    },
    parsers: [{ name: 'sip' }, { name: 'rtcp' }, { name: 'rtp' }, { name: 'dns' }],
    processors: [{ name: 'test-worker-label' }],
    reporters: [{ name: 'console', config: { format: 'json' } }],
    unmatched_policy: 'forward',
  };
}

const replay = (p: VethPair, file: string, timing: string[] = ['-t']) => nsExec(p.nsA, 'tcpreplay', ['-q', ...timing, '-i', p.ifA, file]);

/** The flow of a record, the same for both directions. */
function flowKey(r: LiveRecord): string {
  const f = r.flow;
  const a = `${f.src_ip}/${f.src_port}`;
  const b = `${f.dst_ip}/${f.dst_port}`;
  return `${f.proto} ${a < b ? `${a} ${b}` : `${b} ${a}`} ${JSON.stringify(r.net.tunnel)}`;
}

// ------------------------------------------------------------- replay vs offline, fan-out

/**
 * One live run shared by the two tests below (it takes a while): every
 * Ethernet test capture at top speed, then the sample call at its recorded
 * pace (media follows call setup by a few ms, as on a real network), into
 * two workers in a hash fan-out group.
 */
let shared: Promise<{ live: Awaited<ReturnType<typeof runLive>>; offline: LiveRecord[] }> | null = null;
function sharedRun(): Promise<{ live: Awaited<ReturnType<typeof runLive>>; offline: LiveRecord[] }> {
  shared ??= withVethPair(async (p) => {
    // The test captures one after the other in one file (mergecap -a), so that one tcpreplay sends them all.
    const merged = join(work, 'test-captures.pcap');
    execFileSync('mergecap', ['-a', '-F', 'nsecpcap', '-w', merged, ...ethernetTestCaptures()]);
    const t = writeTask('replay', task(p.ifB, 2));
    const live = await runLive(p.nsB, ['--task', t], 2, async () => {
      await replay(p, merged);
      await replay(p, SAMPLE, []);
    });
    const offline: LiveRecord[] = [];
    for (const f of [merged, SAMPLE]) offline.push(...(await offlineRecords(f, ['--workers', '1'])));
    return { live, offline };
  });
  return shared;
}

test('binding: replaying the test captures through a veth gives the records of the offline run', { skip }, async () => {
  const { live, offline } = await sharedRun();
  assert.equal(live.code, 0, live.stderr);
  assert.ok(offline.length > 300, `offline run produced ${offline.length} records`);
  const s = live.summary!;
  assert.equal(s.dispatchMode, 'binding');
  assert.equal(s.capture.kernelDrops, 0);
  assert.equal(s.capture.kernelPackets, s.capture.packets, 'the kernel counters are summed over both sockets');
  assert.deepEqual(missingFrom(offline, live.records), [], 'every offline record is reported live');
  assert.deepEqual(missingFrom(live.records, offline), [], 'and nothing else');
  assert.equal(live.records.length, offline.length);
});

test('binding: with fan-out over 2 workers every flow stays on one worker and SIP-to-RTP correlation holds', { skip }, async () => {
  const { live } = await sharedRun();
  assert.equal(live.code, 0, live.stderr);
  // The kernel's idea of a flow is its flow dissector's: a plain TCP/UDP
  // 5-tuple, but the inner headers of GRE and IP-in-IP packets, and for IPv6
  // fragments the addresses only (no ports, so every piece of a datagram goes
  // to one worker; IPv4 fragments are reassembled before hashing, the defrag
  // flag), and IPv6 packets whose extension headers it does not walk by their
  // addresses. So: every plain IPv4 TCP/UDP flow on one worker; fragments are
  // covered by the previous test (reassembly across workers would lose records).
  const workerOf = new Map<string, Set<string>>();
  for (const r of live.records) {
    if (r.net.tunnel !== null || r.net.fragmented || r.flow.src_ip.includes(':') || (r.flow.proto !== 6 && r.flow.proto !== 17)) continue;
    const k = flowKey(r);
    if (!workerOf.has(k)) workerOf.set(k, new Set());
    workerOf.get(k)!.add(r.labels['test.worker']!);
  }
  const split = [...workerOf].filter(([, w]) => w.size > 1).map(([k]) => k);
  assert.deepEqual(split, [], 'no flow is split between workers');
  const used = new Set([...workerOf.values()].flatMap((w) => [...w]));
  assert.deepEqual([...used].sort(), ['0', '1'], `both workers get flows (${workerOf.size} flows)`);
  const per = live.summary!.pipelines.perWorker;
  assert.ok(per.every((w) => w.received > 0), JSON.stringify(per));

  const sip = live.records.filter((r) => r.protocol === 'sip');
  const callIds = new Set(sip.map((r) => r.labels['sip.call-id']));
  assert.equal(callIds.size, 1, 'the sample holds one call');
  const [callId] = callIds;
  const media = live.records.filter((r) => r.protocol === 'rtp' || r.protocol === 'rtcp');
  assert.equal(media.filter((r) => r.protocol === 'rtp').length, 202);
  assert.equal(media.filter((r) => r.protocol === 'rtcp').length, 10);
  for (const r of media) assert.equal(r.labels['call-id'], callId, `${r.protocol} ${flowKey(r)} carries the call's id`);
  const workers = (rs: LiveRecord[]) => [...new Set(rs.map((r) => r.labels['test.worker']))].sort().join(',');
  console.log(`sip on worker(s) ${workers(sip)}, rtp on ${workers(media.filter((r) => r.protocol === 'rtp'))}, rtcp on ${workers(media.filter((r) => r.protocol === 'rtcp'))}`);
});

// ------------------------------------------------------------- BPF filter vs tcpdump

test('binding: the BPF filter admits exactly what tcpdump admits with the same expression', { skip }, async () => {
  const source = join(ROOT, 'test/captures/generated/multi-ethernet-nsec.pcap');
  // [expression, workers]. With 2 workers the sockets are in a fan-out group
  // with the defrag flag, and the kernel reassembles IPv4 datagrams before
  // any filter sees them: an expression on fragment fields then sees whole
  // datagrams. It is checked with 1 worker (no group), where it must match tcpdump exactly.
  const exprs: [string, number][] = [
    ['udp port 5060 or udp port 53', 2],
    ['vlan', 2],
    ['ip6 and not icmp6', 2],
    ['tcp[tcpflags] & tcp-syn != 0', 2],
    ['ip[6:2] & 0x3fff != 0 or ip6[6] == 44', 1],
  ];
  for (const [expr, workers] of exprs) {
    await withVethPair(async (p) => {
      const out = join(work, `td-${workers}-${expr.length}.pcap`);
      // tcpdump listens on the same interface at the same time, with the same expression.
      const td = spawn('ip', ['netns', 'exec', p.nsB, 'tcpdump', '-i', p.ifB, '--immediate-mode', '-U', '-w', out, expr], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let tdErr = '';
      td.stderr.setEncoding('utf8').on('data', (d: string) => (tdErr += d));
      try {
        const until = Date.now() + 10_000;
        while (!tdErr.includes('listening on')) {
          assert.ok(Date.now() < until && td.exitCode === null, `tcpdump did not start: ${tdErr}`);
          await sleep(20);
        }
        const live = await runLive(p.nsB, ['--interface', p.ifB, '--filter', expr, '--workers', String(workers), '--format', 'json'], workers + 1, async () => {
          await replay(p, source);
          await replay(p, SAMPLE);
        });
        assert.equal(live.code, 0, live.stderr);
        // tcpdump writes each packet as it reads it (-U): wait until it holds as many as otus read, so a
        // loaded machine does not cut it short (if it never gets there, the comparison below says by how much).
        await waitUntil(() => readPcapFrames(out).length >= live.summary!.capture.packets, 20_000, 'tcpdump').catch(() => {});
        td.kill('SIGINT');
        await new Promise((r) => td.once('exit', r));
        const admitted = readPcapFrames(out).length;
        assert.ok(admitted > 0, `tcpdump admitted something for "${expr}" (${tdErr})`);
        assert.equal(live.summary!.capture.packets, admitted, `"${expr}": otus read what tcpdump admitted`);
        const fromTcpdump = await offlineRecords(out, ['--workers', '1']);
        assert.deepEqual(missingFrom(fromTcpdump, live.records), [], `"${expr}": records of tcpdump's packets`);
        assert.deepEqual(missingFrom(live.records, fromTcpdump), [], `"${expr}": and no others`);
      } finally {
        if (td.exitCode === null) td.kill('SIGKILL');
      }
    });
  }
});

// ------------------------------------------------------------- a real call

const sippSkip = skip ?? netnsSkipReason('sipp');

test('binding: a sipp call between two namespaces is reported live with its RTP correlated', { skip: sippSkip }, async () => {
  await withVethPair(async (p) => {
    const uac = join(ROOT, 'scripts/sample/uac.xml');
    let uas: ReturnType<typeof spawn> | null = null;
    try {
      const live = await runLive(p.nsB, ['--interface', p.ifB, '--workers', '2', '--format', 'json'], 2, async () => {
        // The callee answers and echoes the caller's RTP back; -m 1: it exits after the call.
        uas = spawn('ip', ['netns', 'exec', p.nsB, 'sipp', '-sn', 'uas', '-i', p.ipB, '-p', '5060', '-mi', p.ipB, '-mp', '6100', '-rtp_echo', '-m', '1', '-nostdin'], {
          cwd: work,
          stdio: 'ignore',
        });
        await sleep(300);
        await execFileP(
          'ip',
          ['netns', 'exec', p.nsA, 'sipp', `${p.ipB}:5060`, '-sf', uac, '-s', '1000', '-i', p.ipA, '-p', '5061', '-mi', p.ipA, '-mp', '6000', '-m', '1', '-l', '1', '-timeout', '30', '-timeout_error', '-nostdin'],
          { cwd: work },
        );
      });
      assert.equal(live.code, 0, live.stderr);
      const sip = live.records.filter((r) => r.protocol === 'sip');
      const methods = sip.map((r) => r.labels['sip.method'] ?? r.labels['sip.status']);
      for (const m of ['INVITE', '200', 'ACK', 'BYE']) assert.ok(methods.includes(m), `${m} reported (${methods.join(' ')})`);
      const callIds = new Set(sip.map((r) => r.labels['sip.call-id']));
      assert.equal(callIds.size, 1);
      const [callId] = callIds;
      const rtp = live.records.filter((r) => r.protocol === 'rtp');
      assert.ok(rtp.length >= 100, `RTP both ways is reported (${rtp.length} packets)`);
      for (const r of rtp) assert.equal(r.labels['call-id'], callId, `rtp ${flowKey(r)} carries the call's id`);
      assert.ok(rtp.every((r) => r.labels['codec'] !== undefined), 'and its codec');
      const dirs = new Set(rtp.map((r) => `${r.flow.src_ip}>${r.flow.dst_ip}`));
      assert.equal(dirs.size, 2, 'both directions');
      assert.equal(live.summary!.capture.kernelDrops, 0);
    } finally {
      const u = uas as ReturnType<typeof spawn> | null;
      if (u && u.exitCode === null) u.kill('SIGKILL');
    }
  });
});

// ------------------------------------------------------------- errors an operator can cause

test('binding: an unknown interface, an invalid filter and a missing privilege are clear errors', { skip }, async () => {
  await withVethPair(async (p) => {
    const main = join(ROOT, 'dist/src/cli/main.js');
    const run = async (cmd: string[], ...args: string[]) => {
      try {
        const r = await execFileP(cmd[0]!, [...cmd.slice(1), process.execPath, main, 'run', '--no-progress', ...args], { encoding: 'utf8' });
        return { code: 0, stderr: r.stderr };
      } catch (e) {
        const err = e as { code: number; stderr: string };
        return { code: err.code, stderr: err.stderr };
      }
    };
    const inNs = ['ip', 'netns', 'exec', p.nsB];
    let r = await run(inNs, '--interface', 'nosuch0');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^otus: afpacket: no network interface "nosuch0" in this network namespace/);
    assertNoStack(r.stderr);

    r = await run(inNs, '--interface', p.ifB, '--filter', 'udp port 99999');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^otus: afpacket: .*udp port 99999/);
    assertNoStack(r.stderr);

    // Root without CAP_NET_RAW (setpriv drops it from every set).
    r = await run([...inNs, 'setpriv', '--inh-caps', '-net_raw', '--ambient-caps', '-net_raw', '--bounding-set', '-net_raw'], '--interface', p.ifB);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^otus: afpacket: capturing on ".+" needs the CAP_NET_RAW capability/);
    assertNoStack(r.stderr);
  });
});

test('binding: an interface going down ends the run with a clear error and the summary', { skip }, async () => {
  await withVethPair(async (p) => {
    const live = await runLive(p.nsB, ['--interface', p.ifB, '--workers', '2', '--format', 'json'], 2, async () => {
      await replay(p, SAMPLE);
      await sleep(200);
      nsIp(p.nsB, 'link', 'set', p.ifB, 'down');
      await sleep(1000); // the run ends by itself; the SIGINT after this finds it gone
    });
    assert.equal(live.code, 1, live.stderr);
    assert.match(live.stderr, /otus: error: afpacket: network interface ".+" went down while capturing/);
    assertNoStack(live.stderr);
    assert.equal(live.summary!.capture.packets, 222, 'what came before was processed and counted');
    assert.equal(live.records.length, 222);
  });
});

test('binding: SIGTERM stops a live run in order and prints the summary', { skip }, async () => {
  await withVethPair(async (p) => {
    const main = join(ROOT, 'dist/src/cli/main.js');
    const child = spawn('ip', ['netns', 'exec', p.nsB, process.execPath, main, 'run', '--no-progress', '--interface', p.ifB, '--workers', '2', '--format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      const until = Date.now() + 15_000;
      while (!err.includes('otus: capturing on')) {
        assert.ok(Date.now() < until && child.exitCode === null, `otus did not start: ${err}`);
        await sleep(20);
      }
      await replay(p, SAMPLE);
      await sleep(300);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.match(err, /otus run: task run, .+, 2 workers/);
      assert.match(err, /read\s+222 packets/);
      assert.match(err, /kernel\s+222 packets to the capture sockets, 0 dropped, 0 queue freezes/);
      assert.equal(out.trim().split('\n').length, 222);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
