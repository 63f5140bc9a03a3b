// SharedFlowRegistry across worker threads: a registration on one worker is
// seen by another as soon as register() returns, and concurrent writers never
// let a reader see a torn entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { SharedFlowRegistry } from '../../src/flow/shared-flow-registry.ts';
import { CHURN_KEYS, churnIp, churnPort, churnVersion, CTL_START, STABLE_KEYS, stableCtx, stableIp, stablePort, type Role, type WorkerInput } from './registry-worker.ts';

interface Started {
  worker: Worker;
  result: Promise<unknown>;
}

async function startAll(reg: SharedFlowRegistry, roles: { role: Role; rounds: number; seed?: number }[]): Promise<unknown[]> {
  const ctl = new SharedArrayBuffer(64);
  const started: Started[] = [];
  const ready: Promise<void>[] = [];
  for (const r of roles) {
    const input: WorkerInput = { role: r.role, sab: reg.shared, ctl, rounds: r.rounds, seed: r.seed ?? 1 };
    const worker = new Worker(new URL('./registry-worker.js', import.meta.url), { workerData: input });
    ready.push(new Promise((res, rej) => {
      worker.once('message', () => res());
      worker.once('error', rej);
    }));
    const result = new Promise<unknown>((res, rej) => {
      worker.on('message', (m: { type: string; result?: unknown }) => {
        if (m.type === 'result') res(m.result);
      });
      worker.on('error', rej);
      worker.on('exit', (code) => rej(new Error(`worker ${r.role} exited with ${code} before its result`)));
    });
    started.push({ worker, result });
  }
  await Promise.all(ready);
  const c = new Int32Array(ctl);
  Atomics.store(c, CTL_START, 1);
  Atomics.notify(c, CTL_START);
  try {
    return await Promise.all(started.map((s) => s.result));
  } finally {
    await Promise.all(started.map((s) => s.worker.terminate()));
  }
}

test('a registration on one worker is visible to another as soon as register() returns', { timeout: 60_000 }, async () => {
  const reg = SharedFlowRegistry.create(64);
  const rounds = 2000;
  const [w, r] = (await startAll(reg, [
    { role: 'visibility-writer', rounds },
    { role: 'visibility-reader', rounds },
  ])) as [{ rounds: number }, { failures: string[] }];
  assert.equal(w.rounds, rounds);
  assert.deepEqual(r.failures, []);
  // 2000 inserts and 1999 removals through a 64-capacity table: tombstones were recycled.
  const s = reg.stats();
  assert.equal(s.inserted, rounds);
  assert.equal(s.unregistered, rounds - 1);
  assert.equal(reg.size(), 1);
});

test('two writers and two readers: no torn entry, stable entries never missed', { timeout: 120_000 }, async () => {
  const reg = SharedFlowRegistry.create(96);
  for (let i = 0; i < STABLE_KEYS; i++) reg.register(17, 4, stableIp(i), stablePort(i), stableCtx(i), 1e9, 0);
  const ops = 60_000;
  const results = (await startAll(reg, [
    { role: 'stress-writer', rounds: ops, seed: 11 },
    { role: 'stress-writer', rounds: ops, seed: 22 },
    { role: 'stress-reader', rounds: 0, seed: 33 },
    { role: 'stress-reader', rounds: 0, seed: 44 },
  ])) as [
    { regs: number; unregs: number; calls: number },
    { regs: number; unregs: number; calls: number },
    { ops: number; hits: number; stableHits: number; violations: string[]; stats: Record<string, number> },
    { ops: number; hits: number; stableHits: number; violations: string[]; stats: Record<string, number> },
  ];
  const [w1, w2, r1, r2] = results;
  assert.equal(w1.regs + w1.unregs + w1.calls, ops);
  assert.equal(w2.regs + w2.unregs + w2.calls, ops);
  for (const r of [r1, r2]) {
    assert.deepEqual(r.violations, []);
    assert.ok(r.ops >= 20_000);
    assert.ok(r.hits > 0, 'readers saw churned entries');
    assert.ok(r.stableHits > 0);
    assert.ok(r.stats.context_decodes! > 0);
  }
  const s = reg.stats();
  assert.equal(s.inserted + s.refreshed + s.updated + s.refused_full, w1.regs + w2.regs + STABLE_KEYS);
  // The table is consistent afterwards: every stable entry is there, nothing beyond capacity.
  for (let i = 0; i < STABLE_KEYS; i++) assert.deepEqual(reg.lookupEndpoint(17, 4, stableIp(i), stablePort(i), 0), stableCtx(i));
  assert.ok(s.occupied <= 96);
  // The occupancy counter matches what a probe finds (at time -inf nothing has expired).
  let present = STABLE_KEYS;
  for (let j = 0; j < CHURN_KEYS; j++) if (reg.lookupEndpoint(17, churnVersion(j), churnIp(j), churnPort(j), -Infinity) !== null) present++;
  assert.equal(present, s.occupied);
});
