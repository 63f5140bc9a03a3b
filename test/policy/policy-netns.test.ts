// The policy dataplane on a real veth pair between two namespaces: the
// program on B's ingress, a probe server in B echoing TCP and UDP, a probe
// driver in A. A request is "through" when its echo (or SYN-ACK) comes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVethPair, inNetns, netnsSkipReason, nsExec, type VethPair } from '../helpers/netns.ts';
import { defaultObjectPath } from '../../src/policy/dataplane.ts';
import { PolicyService } from '../../src/policy/service.ts';
import type { OutputRecord } from '../../src/core/record.ts';
import { Probe } from './probe-client.ts';

const skip = netnsSkipReason('tc', 'ping') ?? (existsSync(defaultObjectPath()) ? undefined : `no BPF object at ${defaultObjectPath()} (run scripts/build-bpf.sh)`);
const TCP = [22, 80, 8080, 8081, 9000];
const UDP = [53, 5005, 6000, 7000, 7777, 7778];

function service(dataDir: string, records: OutputRecord[], sessionsMax = 100_000): PolicyService {
  return new PolicyService({
    dataDir,
    log: () => {},
    sink: (r) => records.push(...r),
    dataplane: { sessionsMax, ringBufferBytes: 1 << 16, eventsNewSession: false, eventIntervalMs: 1000 },
  });
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const BASE_RULES = [
  { id: 'ssh-deny', priority: 10, action: 'deny', proto: 'tcp', dst: '10.0.0.2/32', dst_port: 22 },
  { id: 'udp-range-log', priority: 20, action: 'log', proto: 'udp', dst_port: '5000-5010' },
  { id: 'udp-cidr-deny', priority: 30, action: 'deny', proto: 'udp', src: '10.0.0.0/24', dst_port: 6000 },
  { id: 'web-allow', priority: 5, action: 'allow', proto: 'tcp', src: '10.0.0.1', dst_port: 8080 },
  { id: 'web-range-deny', priority: 40, action: 'deny', proto: 'tcp', dst_port: { from: 8000, to: 8100 } },
  { id: 'icmp-deny', priority: 50, action: 'deny', proto: 'icmp' },
];

describe('policy dataplane between namespaces', { skip }, () => {
  let pair: VethPair;
  let server: Probe;
  let driver: Probe;
  let svc: PolicyService;
  let dataDir: string;
  const records: OutputRecord[] = [];
  const inB = <T>(fn: () => T) => inNetns(pair.nsB, fn);
  const tcp = async (dport: number) => (await driver.ask({ op: 'tcp', dport, timeout: 600 }))['ok'] === true;
  const udp = async (dport: number, sport = 0) => (await driver.ask({ op: 'udp', dport, sport, timeout: 400 }))['ok'] === true;
  const ping = async () => {
    try {
      await nsExec(pair.nsA, 'ping', ['-c', '1', '-W', '1', pair.ipB]);
      return true;
    } catch {
      return false;
    }
  };

  before(async () => {
    pair = createVethPair();
    dataDir = mkdtempSync(path.join(tmpdir(), 'otus-policy-'));
    server = new Probe(pair.nsB, ['server', TCP.join(','), UDP.join(',')]);
    assert.deepEqual(await server.next(), { ready: true });
    driver = new Probe(pair.nsA, ['driver', pair.ipB]);
    svc = service(dataDir, records);
    await inB(() => svc.attach(pair.ifB, 'ingress'));
  });

  after(() => {
    try {
      if (svc) inB(() => svc.stop());
    } finally {
      driver?.stop();
      server?.stop();
      pair?.remove();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('with no rules the default (allow) passes TCP, UDP and ICMP', async () => {
    assert.equal(await tcp(80), true);
    assert.equal(await udp(53), true);
    assert.equal(await ping(), true);
    const st = svc.stats() as { counters: Record<string, number> };
    assert.ok(st.counters['new_sessions']! >= 3);
    assert.equal(st.counters['denied'], 0);
  });

  test('exact, CIDR, range and priority rules decide TCP, UDP and ICMP', async () => {
    const r = await svc.replace({ default_action: 'allow', rules: BASE_RULES });
    assert.equal(r.rules, BASE_RULES.length);
    assert.equal(await tcp(22), false, 'exact tcp/22 deny');
    assert.equal(await tcp(80), true, 'no rule: default allow');
    assert.equal(await tcp(8080), true, 'priority 5 allow beats the priority 40 range deny');
    assert.equal(await tcp(8081), false, 'range 8000-8100 deny');
    assert.equal(await tcp(9000), true, 'outside the range');
    assert.equal(await udp(5005, 41005), true, 'log passes');
    assert.equal(await udp(6000, 41006), false, 'CIDR source deny');
    assert.equal(await udp(7000), true, 'udp default allow');
    assert.equal(await ping(), false, 'icmp deny');
    const c = (svc.stats() as { counters: Record<string, number> }).counters;
    assert.ok(c['denied']! > 0 && c['logged']! > 0);
  });

  test('deny and log events become policy records naming the rule', async () => {
    await waitFor(() => records.some((r) => r.labels['policy.rule'] === 'udp-cidr-deny') && records.some((r) => r.labels['policy.rule'] === 'udp-range-log'));
    const log = records.find((r) => r.labels['policy.rule'] === 'udp-range-log')!;
    assert.equal(log.protocol, 'policy');
    assert.equal(log.labels['policy.event'], 'log');
    assert.equal(log.labels['policy.action'], 'log');
    assert.equal(log.labels['policy.interface'], pair.ifB);
    assert.deepEqual(log.flow, { srcIp: pair.ipA, dstIp: pair.ipB, srcPort: 41005, dstPort: 5005, proto: 17 });
    const deny = records.find((r) => r.labels['policy.rule'] === 'udp-cidr-deny')!;
    assert.equal(deny.labels['policy.event'], 'deny');
    assert.deepEqual(deny.flow, { srcIp: pair.ipA, dstIp: pair.ipB, srcPort: 41006, dstPort: 6000, proto: 17 });
    assert.ok(records.some((r) => r.labels['policy.rule'] === 'icmp-deny' && r.flow.proto === 1));
    // Selective: no event for allowed sessions (events_new_session is off).
    assert.ok(!records.some((r) => r.labels['policy.action'] === 'allow'));
    assert.ok(Math.abs(Date.now() - deny.tsSec * 1000) < 60_000, 'event time is wall-clock time');
  });

  test('a wildcard deny with a default deny set; a higher-priority allow opens one port', async () => {
    await svc.replace({
      default_action: 'deny',
      rules: [
        { id: 'allow-icmp', priority: 1, action: 'allow', proto: 'icmp' },
        { id: 'allow-udp-7777', priority: 2, action: 'allow', proto: 'udp', src: 'any', dst: 'any', dst_port: 7777 },
        { id: 'deny-all', priority: 100, action: 'deny' },
      ],
    });
    assert.equal(await ping(), true, 'icmp now allowed (and the denied ICMP session decided again)');
    assert.equal(await udp(7777), true);
    assert.equal(await udp(7778), false, 'wildcard deny');
    assert.equal(await tcp(80), false, 'wildcard deny reaches an existing session too');
  });

  test('a DENY added while a TCP session is established cuts it at its next packet', async () => {
    await svc.replace({ default_action: 'allow', rules: [] });
    const stream = new Probe(pair.nsA, ['driver', pair.ipB]);
    try {
      assert.deepEqual(await stream.ask({ op: 'stream', dport: 9000, interval: 40 }), { connected: true });
      await waitFor(() => stream.lines.filter((l) => 'echo' in l).length >= 5);
      const before = (svc.stats() as { counters: Record<string, number> }).counters;
      await svc.add({ id: 'cut-9000', priority: 1, action: 'deny', proto: 'tcp', dst_port: 9000 });
      const atAdd = stream.lines.filter((l) => 'echo' in l).length;
      await new Promise((r) => setTimeout(r, 600)); // some 15 more messages are sent meanwhile
      const afterwards = stream.lines.filter((l) => 'echo' in l).length;
      // At most the echo of a message already past the hook when the rule landed.
      assert.ok(afterwards - atAdd <= 1, `echoes after the deny: ${afterwards - atAdd}`);
      const c = (svc.stats() as { counters: Record<string, number> }).counters;
      assert.ok(c['reclassified']! > before['reclassified']!, 'the session was decided again');
      assert.ok(c['denied']! > before['denied']!, 'its packets are dropped');
      const s = svc.topSessions(100).sessions.find((x) => x.dst_port === 9000 && x.proto === 6);
      assert.equal(s?.action, 'deny');
      assert.equal(s?.rule, 'cut-9000');
    } finally {
      stream.stop();
    }
  });

  test('10,000 rules load and match (the last one by priority decides real traffic)', async (t) => {
    const rules: Record<string, unknown>[] = [];
    for (let i = 0; i < 9_999; i++) {
      rules.push({ id: `r${i}`, priority: 10 + (i % 500), action: i % 3 === 0 ? 'log' : 'deny', proto: i % 2 ? 'tcp' : 'udp', src: `172.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`, dst: `10.${1 + (i >> 8)}.${i & 255}.0/24`, dst_port: { from: 1000 + (i % 4000), to: 1000 + (i % 4000) + (i % 7) } });
    }
    rules.push({ id: 'last', priority: 999_999, action: 'deny', proto: 'udp', dst: '10.0.0.0/24', dst_port: 7777 });
    const r = await svc.replace({ default_action: 'allow', rules });
    t.diagnostic(`10,000 rules compiled and published in ${r.load_ms} ms`);
    assert.equal(r.rules, 10_000);
    assert.equal(await udp(7777, 42000), false, 'rule 10,000 (lowest priority) denies');
    assert.equal(await udp(7778, 42001), true, 'nothing matches: default allow');
    assert.equal(svc.list().rules.length, 10_000);
    const saved = JSON.parse(readFileSync(path.join(dataDir, 'policy', 'policy.json'), 'utf8')) as { rules: unknown[]; attachments: unknown[] };
    assert.equal(saved.rules.length, 10_000);
    // The qdisc on B was created by the service: marked with B's ifindex.
    const ifindex = Number(execFileSync('ip', ['netns', 'exec', pair.nsB, 'cat', `/sys/class/net/${pair.ifB}/ifindex`], { encoding: 'utf8' }).trim());
    assert.deepEqual(saved.attachments, [{ interface: pair.ifB, direction: 'ingress', qdisc_created_ifindex: ifindex }]);
  });

  test('the session table evicts at capacity', async () => {
    const small = service(mkdtempSync(path.join(tmpdir(), 'otus-policy-lru-')), [], 64);
    try {
      await inB(() => svc.detach(pair.ifB, 'ingress'));
      await inB(() => small.attach(pair.ifB, 'ingress'));
      assert.deepEqual(await driver.ask({ op: 'burst', from: 30000, count: 400, dport: 53 }), { ok: true });
      await waitFor(() => (small.stats() as { counters: Record<string, number> }).counters['new_sessions']! >= 400);
      const { total } = small.topSessions(1000);
      assert.ok(total <= 64, `sessions in the table: ${total}`);
      assert.ok(total > 0);
    } finally {
      inB(() => small.stop());
    }
    await inB(() => svc.attach(pair.ifB, 'ingress'));
  });

  test('an interface without Ethernet framing (a tun device) is refused, and nothing is left on it', async () => {
    // A tun device (ARPHRD_NONE): its packets start at the IP header. Removed with the namespace in any case.
    execFileSync('ip', ['netns', 'exec', pair.nsB, 'ip', 'tuntap', 'add', 'dev', 'otustun0', 'mode', 'tun']);
    execFileSync('ip', ['netns', 'exec', pair.nsB, 'ip', 'link', 'set', 'otustun0', 'up']);
    await assert.rejects(
      inB(() => svc.attach('otustun0', 'ingress')),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'UNSUPPORTED_LINK');
        assert.match(e.message, /^interface otustun0: link type 65534 has no Ethernet header/);
        return true;
      },
    );
    const tcShow = (...a: string[]) => execFileSync('ip', ['netns', 'exec', pair.nsB, 'tc', ...a], { encoding: 'utf8' });
    assert.doesNotMatch(tcShow('qdisc', 'show', 'dev', 'otustun0'), /clsact/);
    // lo (ARPHRD_LOOPBACK) carries an Ethernet header at TC: accepted.
    const a = await inB(() => svc.attach('lo', 'ingress'));
    assert.ok(a.prog_id > 0);
    await inB(() => svc.detach('lo', 'ingress'));
    assert.doesNotMatch(tcShow('qdisc', 'show', 'dev', 'lo'), /clsact/);
  });

  test('detach leaves no TC filter, qdisc, program or map behind', async () => {
    const st = svc.stats() as { attachments: { prog_id: number }[] };
    const progId = st.attachments[0]!.prog_id;
    assert.ok(progId > 0);
    const tcShow = (...a: string[]) => execFileSync('ip', ['netns', 'exec', pair.nsB, 'tc', ...a], { encoding: 'utf8' });
    assert.match(tcShow('filter', 'show', 'dev', pair.ifB, 'ingress'), /otus_policy_ingress|bpf/);
    await inB(() => svc.detach(pair.ifB, 'ingress'));
    assert.equal(tcShow('filter', 'show', 'dev', pair.ifB, 'ingress').trim(), '');
    assert.doesNotMatch(tcShow('qdisc', 'show', 'dev', pair.ifB), /clsact/);
    inB(() => svc.stop());
    const progs = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
    assert.ok(!(JSON.parse(progs) as { id: number }[]).some((p) => p.id === progId), 'the program is unloaded');
    assert.equal(await tcp(22), true, 'traffic flows without the program');
  });
});
