// Entry point of a pipeline worker thread. Dispatch mode: drains its frame
// ring through a Pipeline and posts record batches to the task's sender; the
// loop is synchronous and steered through shared memory, so the worker never
// yields per packet. Binding mode: owns one capturer (an AF_PACKET socket in
// the task's fan-out group) and runs its packets through the Pipeline
// directly, straight from the kernel's ring (bound-capture.ts).
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { newRawPacket, type RawPacket } from '../core/packet.ts';
import type { OutputRecord } from '../core/record.ts';
import '../plugins/index.ts';
import { buildPlugins } from '../task/build-plugins.ts';
import { ControlBlock } from './control-block.ts';
import { FrameRingReader } from './frame-ring.ts';
import { threadLogger, type PipelineSnapshot, type PipelineWorkerData, type WorkerMessage } from './messages.ts';
import { PIPELINE_COUNTERS, Pipeline } from './pipeline.ts';
import type { Parser } from '../plugin/interfaces.ts';
import { isFlowRegistryAware } from '../flow/api.ts';
import { SharedFlowRegistry } from '../flow/shared-flow-registry.ts';
import { openBoundCapturer, runBoundCapture } from './bound-capture.ts';
import { IdleExpiry } from './idle-expiry.ts';
import { LineBatchWriter } from './line-batch.ts';

const MAX_PENDING_BATCHES = 8;
const FLUSH_MS = 20;
const STATS_MS = 500;

const data = workerData as PipelineWorkerData;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

function snapshot(p: Pipeline, parsers: Parser[], reader: FrameRingReader | null): PipelineSnapshot {
  const counters: Record<string, number> = {};
  PIPELINE_COUNTERS.forEach((n, i) => (counters[n] = p.counters[i]!));
  const parsed: Record<string, number> = {};
  const parserStats: Record<string, Record<string, number>> = {};
  data.task.parsers.forEach((ref, i) => {
    parsed[ref.name] = p.parsed[i]!;
    parserStats[ref.name] = parsers[i]!.stats();
  });
  return {
    index: data.index,
    counters,
    decodeErrors: p.decoder.stats.errorsByReason(),
    decoder: { ...p.decoder.stats.summary(), ...p.reassemblyStats() },
    parsed,
    parserStats,
    channelUsage: reader ? reader.usage() : 0,
  };
}

async function main(): Promise<void> {
  const ctx = {
    taskId: data.task.id,
    workerIndex: data.index,
    agent: data.agent,
    log: threadLogger(post),
  };
  const parsers = await buildPlugins('parser', data.task.parsers, ctx);
  const processors = await buildPlugins('processor', data.task.processors, ctx);
  // Wire the task's FlowRegistry (created once on the main thread) into the
  // parsers that use it, after init (DESIGN section 4).
  const registry = SharedFlowRegistry.attach(data.flowRegistry);
  for (const p of parsers) if (isFlowRegistryAware(p)) p.setFlowRegistry(registry);
  const control = new ControlBlock(data.control);

  // Every reporter writes these lines and reads nothing else (linesOnly): each
  // record's line goes into a byte batch at once, and the batch crosses to
  // the main thread as one transferred buffer instead of a graph of objects.
  const linesOnly = data.forms.linesOnly ?? null;
  let batch: OutputRecord[] = [];
  const lineBatch = new LineBatchWriter();
  const pipeline = new Pipeline({
    decoder: data.decoder,
    parsers,
    processors,
    unmatchedPolicy: data.task.unmatched_policy,
    forms: data.forms,
    emit:
      linesOnly === 'json'
        ? (rec) => lineBatch.add(rec.jsonLine!)
        : linesOnly === 'text'
          ? (rec) => lineBatch.add(rec.textLine!)
          : (rec) => batch.push(rec),
  });
  const batched = () => (linesOnly ? lineBatch.count : batch.length);

  const flush = () => {
    if (batched() === 0) return;
    if (data.lossless) {
      while (control.pending(data.index) >= MAX_PENDING_BATCHES && !control.stopping) {
        control.waitPendingBelow(data.index, MAX_PENDING_BATCHES, 50);
      }
    }
    control.addPending(data.index);
    if (linesOnly) {
      // Buffers of batches the reporters have written come back for reuse.
      const spare = data.spareBuffers;
      if (spare !== undefined) {
        for (let r = receiveMessageOnPort(spare); r !== undefined; r = receiveMessageOnPort(spare)) lineBatch.recycle(r.message as ArrayBuffer);
      }
      const { bytes, count } = lineBatch.take();
      port.postMessage({ type: 'lines', index: data.index, bytes, count } satisfies WorkerMessage, [bytes.buffer as ArrayBuffer]);
    } else {
      post({ type: 'records', index: data.index, records: batch });
      batch = [];
    }
  };

  if (data.capture) {
    // Binding mode: the socket is opened (and joins the fan-out group) before
    // 'ready', so a wrong interface, filter or privilege fails the task start.
    const capturer = await openBoundCapturer(data.capture, ctx);
    post({ type: 'ready', index: data.index });
    await runBoundCapture({
      capturer,
      pipeline,
      control,
      port,
      flush,
      batched,
      batchSize: data.batchSize,
      snapshot: () => snapshot(pipeline, parsers, null),
      post,
      stopParsers: () => parsers.forEach((p) => p.stop?.()),
    });
    return;
  }
  const reader = new FrameRingReader(data.ring!);
  // Every plugin is built and initialised: the task may start its capture.
  post({ type: 'ready', index: data.index });
  const raw: RawPacket = newRawPacket();
  const self = data.index;
  const handle = (pkt: RawPacket, frameNo: number) => {
    // A frame dispatched after another worker's signalling frame waits for it (Dispatcher.barrierFor).
    if (reader.barrierWorker >= 0) control.waitProgress(reader.barrierWorker, reader.barrierFrame);
    // A signalling frame waits for every frame captured before it (Dispatcher.fenceFor).
    for (let i = 0; i < reader.fenceCount; i++) control.waitProgress(reader.fence[2 * i]!, reader.fence[2 * i + 1]!);
    pipeline.handle(pkt, frameNo);
    control.setProgress(self, frameNo);
  };
  let lastFlush = Date.now();
  let lastStats = lastFlush;
  // A live capture's timeouts go on while the link is quiet (idle-expiry.ts).
  const idle = data.lossless ? null : new IdleExpiry(pipeline, lastFlush);
  for (;;) {
    const n = reader.drain(raw, 512, handle);
    if (n > 0) control.notifyProgress(self);
    const now = Date.now();
    if (idle !== null) idle.tick(pipeline.counter('received'), now);
    const pending = batched();
    if (pending >= data.batchSize || (pending > 0 && (n === 0 || now - lastFlush >= FLUSH_MS))) {
      flush();
      lastFlush = now;
    }
    if (now - lastStats >= STATS_MS) {
      post({ type: 'stats', snapshot: snapshot(pipeline, parsers, reader) });
      lastStats = now;
    }
    if (n === 0) {
      // Only a closed and empty ring ends the loop, also on a stop: the
      // capture thread closes the rings once its capturer has stopped, so
      // every frame it dispatched is handled (a worker leaving at a stop
      // while frames still come would lose them, and other workers' frames
      // may be waiting for them). An abort (a thread failed) ends it at once.
      if (reader.isFinished() || control.aborted) break;
      reader.waitForData(5);
    }
  }
  control.setFinished(self);
  pipeline.close(); // reassembled streams report their last messages
  flush();
  for (const p of parsers) p.stop?.();
  post({ type: 'done', snapshot: snapshot(pipeline, parsers, reader) });
}

main().catch((e: unknown) => {
  const err = e as Error & { code?: string };
  post({ type: 'error', message: err.message, ...(err.code ? { code: err.code } : {}) });
});
