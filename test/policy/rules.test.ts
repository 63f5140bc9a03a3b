// Rule checking (every refusal names the field) and the compiled bitmaps
// against the reference matcher, without a kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import { checkPolicySet, firstMatch, ordered, type CompiledRule } from '../../src/policy/rules.ts';
import { classifyCompiled, compileSet } from '../../src/policy/compile.ts';

function refused(input: unknown, field: string, text: RegExp): void {
  assert.throws(() => checkPolicySet(input), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, field);
    assert.match(e.message, text);
    return true;
  });
}

test('bad rules are refused with the field named', () => {
  refused({ rules: [{ id: 'a', action: 'deny', src: '10.0.0.300/8' }] }, 'rules[0].src', /bad CIDR/);
  refused({ rules: [{ id: 'a', action: 'deny', dst: '10.0.0.1/8' }] }, 'rules[0].dst', /host bits set \(did you mean 10\.0\.0\.0\/8\?\)/);
  refused({ rules: [{ id: 'a', action: 'deny', dst: '10.0.0.0/33' }] }, 'rules[0].dst', /prefix length/);
  refused({ rules: [{ id: 'a', action: 'deny' }, { id: 'b', action: 'allow', dst_port: '2000-1000' }] }, 'rules[1].dst_port', /inverted port range 2000-1000/);
  refused({ rules: [{ id: 'a', action: 'deny', src_port: { from: 9, to: 3 } }] }, 'rules[0].src_port', /inverted/);
  refused({ rules: [{ id: 'a', action: 'reject' }] }, 'rules[0].action', /unknown action "reject"/);
  refused({ rules: [{ id: 'a', action: 'deny' }, { id: 'b', action: 'deny' }, { id: 'a', action: 'log' }] }, 'rules[2].id', /duplicate id "a" \(also rules\[0\]\)/);
  refused({ rules: [{ id: 'a', action: 'deny', proto: 'icmp', dst_port: 80 }] }, 'rules[0].dst_port', /only to tcp and udp/);
  refused({ rules: [{ id: 'a', action: 'deny', colour: 'red' }] }, 'rules[0]', /colour/);
  refused({ default_action: 'drop', rules: [] }, 'default_action', /unknown action/);
});

test('defaults: any address, any port, any protocol, priority 1000, default action allow', () => {
  const s = checkPolicySet({ rules: [{ id: 'x', action: 'log' }] });
  assert.equal(s.defaultAction, 'allow');
  assert.deepEqual(s.compiled[0], { id: 'x', priority: 1000, action: 2, src: 0, srcLen: 0, dst: 0, dstLen: 0, proto: -1, sport: [0, 65535], dport: [0, 65535] });
});

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('the compiled bitmaps pick the same rule as a first-match scan (random sets, 5,000 probes each)', () => {
  for (const seed of [1, 2, 3]) {
    const r = rng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    const rules = [];
    for (let i = 0; i < 300; i++) {
      const len = pick([0, 8, 16, 24, 28, 32]);
      const base = pick([0x0a000000, 0x0a010000, 0xc0a80000]) + Math.floor(r() * 65536);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      const cidr = (v: number) => (len === 0 ? 'any' : `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`);
      const lo = Math.floor(r() * 1000);
      const proto = pick(['any', 'tcp', 'udp', 'icmp'] as const);
      const ports = proto === 'icmp' ? 'any' : pick(['any', String(lo), `${lo}-${lo + Math.floor(r() * 200)}`]);
      rules.push({ id: `r${i}`, priority: Math.floor(r() * 50), action: pick(['allow', 'deny', 'log']), proto, src: cidr((base & mask) >>> 0), dst: cidr(((base ^ 0x100) & mask) >>> 0), dst_port: ports, src_port: proto === 'icmp' ? 'any' : pick(['any', ports]) });
    }
    const set = checkPolicySet({ rules });
    const ord: CompiledRule[] = ordered(set.compiled);
    const compiled = compileSet(ord);
    for (let i = 0; i < 5000; i++) {
      const src = pick([0x0a000000, 0x0a010000, 0xc0a80000]) + Math.floor(r() * 65536);
      const dst = pick([src ^ 0x100, src, 0x08080808]);
      const proto = pick([1, 6, 17, 47]);
      const sp = proto === 1 ? 0 : Math.floor(r() * 1300);
      const dp = proto === 1 ? 0 : Math.floor(r() * 1300);
      const want = firstMatch(ord, src, dst, proto, sp, dp);
      const got = classifyCompiled(compiled, src, dst, proto, sp, dp);
      assert.equal(got === -1 ? null : ord[got]!.id, want?.id ?? null, `seed ${seed}, probe ${i}`);
    }
  }
});

test('a set of 10,000 rules compiles, and its last rule is found', () => {
  const rules = Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, priority: i, action: 'deny', proto: 'udp', dst: `10.${i >> 8}.${i & 255}.0/24`, dst_port: 1000 + (i % 3000) }));
  const ord = ordered(checkPolicySet({ rules }).compiled);
  const c = compileSet(ord);
  assert.equal(c.nwords, 157);
  assert.equal(classifyCompiled(c, 0x01020304, 0x0a000000 + (39 << 16) + (15 << 8) + 7, 17, 5, 1000 + (9999 % 3000)), 9999);
  assert.equal(classifyCompiled(c, 0x01020304, 0x0a000000 + (39 << 16) + (15 << 8) + 7, 6, 5, 1000 + (9999 % 3000)), -1);
});
