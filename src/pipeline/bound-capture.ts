// A pipeline worker's own capture in binding mode (DESIGN section 2): the
// capturer's packets go straight from the kernel's ring through this
// worker's Pipeline, with no copy and no other thread in between.
//
// Lifecycle, driven by the task's main thread: the capturer is opened before
// the worker says 'ready' (every socket of the task is then in the fan-out
// group, and the kernel queues each one's share in its ring); it runs on the
// 'run' command, which comes once every worker is ready; the stop flag in
// the control block ends it; 'close' (the task failed to start) releases it
// without running. There is no ordering barrier here, unlike dispatch mode:
// the sockets of a fan-out group are independent queues. A SIP message
// registers its media flow in the shared FlowRegistry when it is handled,
// which in practice is long before the first RTP packet of the call arrives.
import type { MessagePort } from 'node:worker_threads';
import type { RawPacket } from '../core/packet.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import type { Capturer, CaptureSink, PluginContext } from '../plugin/interfaces.ts';
import type { ControlBlock } from './control-block.ts';
import type { PipelineSnapshot, WorkerCommand, WorkerMessage } from './messages.ts';
import type { Pipeline } from './pipeline.ts';
import { IdleExpiry } from './idle-expiry.ts';

const TICK_MS = 20;
const STATS_MS = 500;

/** Builds and initialises the worker's capturer (opens its socket). Errors name the capturer. */
export async function openBoundCapturer(spec: { name: string; config: Record<string, unknown> }, ctx: PluginContext): Promise<Capturer> {
  const capturer = lookupPlugin('capturer', spec.name)();
  await capturer.init(spec.config, ctx);
  return capturer;
}

export interface BoundCaptureOptions {
  capturer: Capturer;
  pipeline: Pipeline;
  control: ControlBlock;
  port: MessagePort;
  /** Posts the records batched so far. */
  flush: () => void;
  /** Records batched and not yet posted. */
  batched: () => number;
  batchSize: number;
  /** The pipeline's snapshot, without capture figures. */
  snapshot: () => PipelineSnapshot;
  post: (m: WorkerMessage) => void;
  stopParsers: () => void;
}

/** Waits for the main thread's word: run, or close without running. */
function command(port: MessagePort): Promise<WorkerCommand['type']> {
  return new Promise((resolve) => {
    const on = (m: WorkerCommand) => {
      if (m?.type !== 'run' && m?.type !== 'close') return;
      port.off('message', on);
      resolve(m.type);
    };
    port.on('message', on);
  });
}

export async function runBoundCapture(o: BoundCaptureOptions): Promise<void> {
  const { capturer, pipeline, control } = o;
  const withCapture = (): PipelineSnapshot => ({ ...o.snapshot(), capture: capturer.stats() });
  if ((await command(o.port)) === 'close') {
    await capturer.stop();
    o.post({ type: 'done', snapshot: withCapture() });
    return;
  }
  // Pipeline.handle emits into the worker's batch; flush when it is full.
  let frameNo = 0;
  const { batched, flush, batchSize } = o;
  const sink: CaptureSink = {
    onPacket(pkt: RawPacket): boolean {
      pipeline.handle(pkt, ++frameNo);
      if (batched() >= batchSize) flush();
      return true;
    },
    async ready(): Promise<void> {},
  };
  // The capturer yields to this thread's loop between ring laps and while it
  // waits for the kernel, so a timer serves the stop flag, flushes and stats.
  let lastStats = Date.now();
  // Timeouts go on while the link is quiet (idle-expiry.ts).
  const idle = new IdleExpiry(pipeline, lastStats);
  const tick = setInterval(() => {
    if (control.stopping) void capturer.stop();
    const now = Date.now();
    idle.tick(frameNo, now);
    if (batched() > 0) flush();
    if (now - lastStats >= STATS_MS) {
      o.post({ type: 'stats', snapshot: withCapture() });
      lastStats = now;
    }
  }, TICK_MS);
  let captureError: { message: string; code?: string } | undefined;
  try {
    await capturer.run(sink);
  } catch (e) {
    const err = e as Error & { code?: string };
    captureError = { message: err.message, ...(err.code ? { code: err.code } : {}) };
  } finally {
    clearInterval(tick);
    await capturer.stop();
  }
  pipeline.close(); // reassembled streams report their last messages
  o.flush();
  o.stopParsers();
  o.post({ type: 'done', snapshot: withCapture(), ...(captureError ? { captureError } : {}) });
}
