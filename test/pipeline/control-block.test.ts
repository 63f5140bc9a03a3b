// The control block's progress waits (dispatch mode's fences and barriers):
// a worker blocked on another's progress is woken by that worker's
// setProgress itself, not by a timer or the end of the other's batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ControlBlock, createControlBlock } from '../../src/pipeline/control-block.ts';

const moduleUrl = new URL('../../src/pipeline/control-block.js', import.meta.url).href;

test('a waiter is woken by setProgress, registered as a waiter while it waits and only then', { timeout: 30_000 }, async () => {
  const sab = createControlBlock(2);
  const control = new ControlBlock(sab);
  control.setProgress(0, 1);
  // The waiter sleeps in one-minute slices: only a notify from setProgress can end its wait within the test's time.
  const waiter = new Worker(
    `import(${JSON.stringify(moduleUrl)}).then(({ ControlBlock }) => {
       const { parentPort, workerData } = require('node:worker_threads');
       const c = new ControlBlock(workerData, 60_000);
       c.waitProgress(0, 5);
       parentPort.postMessage('done');
     });`,
    { eval: true, workerData: sab },
  );
  const done = new Promise<string>((resolve, reject) => {
    waiter.once('message', resolve);
    waiter.once('error', reject);
  });
  try {
    while (control.waiters(0) === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(control.waiters(1), 0);
    control.setProgress(0, 3); // not there yet: the waiter looks and sleeps again
    control.setProgress(0, 4);
    assert.equal(control.waiters(0), 1);
    control.setProgress(0, 5);
    assert.equal(await done, 'done');
    assert.equal(control.waiters(0), 0, 'unregistered after the wait');
  } finally {
    await waiter.terminate();
  }
});

test('a wait for a frame already handled returns at once, without registering', () => {
  const control = new ControlBlock(createControlBlock(2), 60_000);
  control.setProgress(1, 10);
  control.waitProgress(1, 7);
  control.waitProgress(1, 10);
  assert.equal(control.waiters(1), 0);
});
