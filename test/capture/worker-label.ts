// A processor for the binding-mode tests, preloaded into every thread with
// `node --import` (worker threads inherit the option): labels each record
// with the index of the pipeline worker that produced it, which the public
// record does not carry, so that a test can see which worker got each flow.
import type { OutputPacket } from '../../src/core/output.ts';
import type { PluginContext, Processor } from '../../src/plugin/interfaces.ts';
import { registerPlugin } from '../../src/plugin/registry.ts';

class WorkerLabel implements Processor {
  private worker = '';
  init(_config: Record<string, unknown>, ctx: PluginContext): void {
    this.worker = String(ctx.workerIndex);
  }
  process(pkt: OutputPacket): boolean {
    pkt.labels['test.worker'] = this.worker;
    return true;
  }
}

registerPlugin('processor', 'test-worker-label', () => new WorkerLabel());
