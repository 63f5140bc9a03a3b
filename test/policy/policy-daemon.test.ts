// The policy methods through the daemon's real control socket: rule checks
// name the field, a missing dataplane is a clear error that leaves the rest of
// the daemon working, and the counters reach the metrics endpoint.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon } from '../../src/daemon/daemon.ts';
import { defaultObjectPath } from '../../src/policy/dataplane.ts';
import { setupDaemon, startDaemon } from '../daemon/daemon-process.ts';
import { FakeRunners } from '../daemon/fake-runner.ts';
import { call } from '../daemon/rpc-client.ts';

let root: string;
before(() => (root = mkdtempSync(join(tmpdir(), 'otus-policy-daemon-'))));
after(() => rmSync(root, { recursive: true, force: true }));

async function started(dir: string, policy: Record<string, unknown>) {
  const s = await setupDaemon(join(root, dir), { policy, log: { outputs: { stdout: { enabled: false } } } });
  const d = new Daemon({ configFile: s.configFile, env: { OTUS_NODE_IP: '10.9.8.7' }, runnerFactory: new FakeRunners().factory, inContainer: false, controlIdleTimeoutMs: 2000 });
  await d.start();
  return { s, d };
}

describe('policy methods on the control socket', () => {
  it('without a usable BPF object: a clear error, and the daemon keeps serving', async () => {
    const { s, d } = await started('noebpf', { object: join(root, 'missing.bpf.o') });
    try {
      const r = await call(s.socket, 'policy_attach', { interface: 'lo' });
      assert.equal(r.error?.code, -32000);
      assert.match(r.error!.message, /BPF object .*missing\.bpf\.o is missing \(run scripts\/build-bpf\.sh/);
      assert.deepEqual(r.error!.data, { reason: 'EBPF_UNAVAILABLE' });
      const st = (await call(s.socket, 'policy_stats')).result as Record<string, unknown>;
      assert.equal(st['loaded'], false);
      assert.match(String(st['reason']), /missing/);
      assert.ok((await call(s.socket, 'daemon_status')).result, 'other methods still answer');
      const bad = await call(s.socket, 'policy_replace', { rules: [{ id: 'a', action: 'deny', src: '10.0.0.0/40' }] });
      assert.equal(bad.error?.code, -32602);
      assert.deepEqual(bad.error!.data, { field: 'rules[0].src' });
      const dir = await call(s.socket, 'policy_attach', { interface: 'lo', direction: 'sideways' });
      assert.equal(dir.error?.code, -32602);
      assert.deepEqual(dir.error!.data, { field: 'direction' });
    } finally {
      await d.stop('test');
    }
  });

  it('with eBPF: replace, add, list, delete and stats over JSON-RPC, and the counters as metrics', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async () => {
    const { s, d } = await started('ebpf', { object: defaultObjectPath(), sessions_max: 1024 });
    try {
      const rep = await call(s.socket, 'policy_replace', { default_action: 'deny', rules: [{ id: 'a', action: 'allow', proto: 'tcp', dst_port: 22 }] });
      assert.equal((rep.result as { rules: number }).rules, 1);
      const add = await call(s.socket, 'policy_add', { rule: { id: 'b', priority: 1, action: 'log', proto: 'udp' } });
      assert.equal((add.result as { rules: number }).rules, 2);
      const dup = await call(s.socket, 'policy_add', { rule: { id: 'b', action: 'log' } });
      assert.deepEqual(dup.error?.data, { field: 'rule.id' });
      const list = (await call(s.socket, 'policy_list')).result as { default_action: string; rules: { id: string }[] };
      assert.equal(list.default_action, 'deny');
      assert.deepEqual(list.rules.map((r) => r.id), ['b', 'a']);
      assert.equal(((await call(s.socket, 'policy_delete', { id: 'a' })).result as { rules: number }).rules, 1);
      assert.equal((await call(s.socket, 'policy_delete', { id: 'a' })).error?.data && true, true);
      const st = (await call(s.socket, 'policy_stats')).result as { loaded: boolean; sessions_max: number; counters: Record<string, number> };
      assert.equal(st.loaded, true);
      assert.equal(st.sessions_max, 1024);
      assert.equal(typeof st.counters['packets'], 'number');
      const metrics = await (await fetch(`http://${d.metricsAddress}/metrics`)).text();
      assert.match(metrics, /^otus_policy_rules 1$/m);
      assert.match(metrics, /^otus_policy_packets_total 0$/m);
      assert.match(metrics, /^otus_policy_loaded 1$/m);
    } finally {
      await d.stop('test');
    }
  });

  it('rules and attachments persist and are re-applied when the daemon starts again', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async () => {
    // A veth pair with no address, left down: nothing reaches it, and the
    // program on it affects no other traffic. Removed in `finally`, whatever
    // happens (deleting one end deletes both).
    const ifname = `otd${process.pid.toString(36)}`.slice(0, 13);
    const tcFilters = () => execFileSync('tc', ['filter', 'show', 'dev', ifname, 'ingress'], { encoding: 'utf8' });
    execFileSync('ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`]);
    try {
      const policy = { object: defaultObjectPath(), sessions_max: 1024 };
      const first = await started('persist', policy);
      try {
        const rep = await call(first.s.socket, 'policy_replace', { default_action: 'allow', rules: [{ id: 'keep', action: 'deny', proto: 'udp', dst_port: 7777 }] });
        assert.equal(rep.error, undefined, JSON.stringify(rep.error));
        const att = await call(first.s.socket, 'policy_attach', { interface: ifname, direction: 'ingress' });
        assert.equal(att.error, undefined, JSON.stringify(att.error));
        assert.match(tcFilters(), /bpf/);
      } finally {
        await first.d.stop('test');
      }
      assert.doesNotMatch(tcFilters(), /bpf/, 'a stopping daemon detaches (TC filters outlive processes)');

      const second = await started('persist', policy);
      try {
        const list = (await call(second.s.socket, 'policy_list')).result as { default_action: string; rules: { id: string; action: string }[] };
        assert.equal(list.default_action, 'allow');
        assert.deepEqual(list.rules.map((r) => [r.id, r.action]), [['keep', 'deny']]);
        const st = (await call(second.s.socket, 'policy_stats')).result as { loaded: boolean; attachments: { interface: string; direction: string }[] };
        assert.equal(st.loaded, true);
        assert.deepEqual(st.attachments.map((a) => [a.interface, a.direction]), [[ifname, 'ingress']]);
        assert.match(tcFilters(), /bpf/, 'the program is back on the interface');
        const det = await call(second.s.socket, 'policy_detach', { interface: ifname, direction: 'ingress' });
        assert.equal(det.error, undefined, JSON.stringify(det.error));
      } finally {
        await second.d.stop('test');
      }
      assert.doesNotMatch(tcFilters(), /bpf/);
    } finally {
      execFileSync('ip', ['link', 'del', ifname]);
    }
  });

  it('a daemon killed while attached leaves its qdisc; the next run knows it for its own and removes it on detach', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async () => {
    const ifname = `otk${process.pid.toString(36)}`.slice(0, 13);
    const tc = (...a: string[]) => execFileSync('tc', [...a], { encoding: 'utf8' });
    execFileSync('ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`]);
    try {
      const s = await setupDaemon(join(root, 'killed'), { policy: { object: defaultObjectPath(), sessions_max: 1024 } });
      const first = await startDaemon(s);
      try {
        const att = await call(s.socket, 'policy_attach', { interface: ifname, direction: 'ingress' });
        assert.equal(att.error, undefined, JSON.stringify(att.error));
        assert.match(tc('qdisc', 'show', 'dev', ifname), /clsact/, 'the daemon created the clsact qdisc');
      } finally {
        first.proc.kill('SIGKILL'); // no chance to detach
        await first.exited;
      }
      assert.match(tc('filter', 'show', 'dev', ifname, 'ingress'), /bpf/, 'TC filters outlive the process');

      const second = await started('killed', { object: defaultObjectPath(), sessions_max: 1024 });
      try {
        const st = (await call(second.s.socket, 'policy_stats')).result as { attachments: { interface: string }[] };
        assert.deepEqual(st.attachments.map((a) => a.interface), [ifname], 'the attachment is restored over the leftover');
        const det = await call(second.s.socket, 'policy_detach', { interface: ifname, direction: 'ingress' });
        assert.equal(det.error, undefined, JSON.stringify(det.error));
      } finally {
        await second.d.stop('test');
      }
      assert.equal(tc('filter', 'show', 'dev', ifname, 'ingress').trim(), '');
      assert.doesNotMatch(tc('qdisc', 'show', 'dev', ifname), /clsact/, 'the qdisc the killed run created is removed');

      // A qdisc someone else made stays, filters and all.
      tc('qdisc', 'add', 'dev', ifname, 'clsact');
      const third = await started('killed', { object: defaultObjectPath(), sessions_max: 1024 });
      try {
        const att = await call(third.s.socket, 'policy_attach', { interface: ifname, direction: 'ingress' });
        assert.equal(att.error, undefined, JSON.stringify(att.error));
        await call(third.s.socket, 'policy_detach', { interface: ifname, direction: 'ingress' });
      } finally {
        await third.d.stop('test');
      }
      assert.match(tc('qdisc', 'show', 'dev', ifname), /clsact/, "another's qdisc is left in place");
    } finally {
      execFileSync('ip', ['link', 'del', ifname]);
    }
  });
});
