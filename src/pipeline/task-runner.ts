// Runs one task: assembles it in the phases of DESIGN section 4 (validate ->
// resolve every factory -> construct -> init -> wire -> start: reporters,
// sender, pipelines, capturer last) and stops it the other way round
// (capturer, pipelines, sender, reporter flush). Lives on the main thread;
// the per-packet work happens in the capture and pipeline threads. In
// binding mode there is no capture thread: every pipeline worker owns a
// capturer (bound-capture.ts), all of them opened before any runs.
import os from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { GlobalConfig } from '../config/global-schema.ts';
import type { OutputRecord, PayloadForms } from '../core/record.ts';
import type { DecoderConfig } from '../decoder/api.ts';
import { tcpReassemblyConfigOf } from '../reassembly/config.ts';
import type { CaptureStats, PluginContext, Reporter } from '../plugin/interfaces.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import { OtusError } from '../core/errors.ts';
import { buildPlugins, resolveFactories } from '../task/build-plugins.ts';
import type { TaskConfig } from '../task/task-schema.ts';
import { ControlBlock, createControlBlock } from './control-block.ts';
import { createFrameRing, FrameRingWriter, type FrameRingShared } from './frame-ring.ts';
import type { CaptureCommand, CaptureMessage, CaptureThreadData, PipelineSnapshot, PipelineWorkerData, WorkerCommand, WorkerMessage } from './messages.ts';
import { bindingCaptureConfig, dispatchModeOf, type DispatchMode } from './binding.ts';
import { Sender, type SendItem, type SenderStats } from './sender.ts';
import { mergeSnapshots, type PipelineTotals } from './totals.ts';
import { SharedFlowRegistry } from '../flow/shared-flow-registry.ts';
import '../plugins/index.ts';

export interface TaskSummary {
  taskId: string;
  workers: number;
  /** How packets reach the workers (DESIGN section 2). */
  dispatchMode?: DispatchMode;
  elapsedSec: number;
  capture: CaptureStats & { channelDrops: number };
  pipelines: PipelineTotals;
  sender: SenderStats[];
  reporters: ({ name: string } & ReturnType<Reporter['stats']>)[];
  /** Set when the capture ended on an error (e.g. a damaged file): what came before was still processed. */
  error: string | null;
}

export interface TaskRunnerOptions {
  task: TaskConfig;
  global: GlobalConfig;
  agent: string;
  log: PluginContext['log'];
}

export function decoderConfigOf(g: GlobalConfig): DecoderConfig {
  const d = g.otus.core.decoder;
  return {
    tunnel: { ...d.tunnel },
    ipReassembly: { timeoutSec: d.ip_reassembly.timeout, maxFragments: d.ip_reassembly.max_fragments },
    tcpReassembly: tcpReassemblyConfigOf(d.tcp_reassembly),
  };
}

/** Which payload forms the reporters will ask for, so workers serialise only those. */
export function payloadFormsOf(task: TaskConfig, agent: string): PayloadForms {
  let json = false;
  let binary = false;
  let line = false;
  let text = false;
  // Lines-only: every reporter writes lines (file, console) of one format.
  const lineFormats = new Set<string>();
  let othersToo = false;
  for (const r of task.reporters) {
    if (r.name === 'file') lineFormats.add('json');
    else if (r.name === 'console') lineFormats.add((r.config['format'] as string | undefined) ?? 'text');
    else othersToo = true;
    const ser = (r.config['serialization'] as string | undefined) ?? 'json';
    if (r.name === 'hep') {
      // SIP travels as its wire bytes; RTCP and DNS as their JSON form (HEP types 5 and 53, as heplify sends them).
      binary = true;
      json = true;
    } else if (r.name === 'kafka') {
      if (ser === 'binary') binary = true;
      else line = true;
    } else if (r.name === 'console' && (r.config['format'] ?? 'text') === 'text') {
      text = true; // text lines carry no payload
    } else if (r.name === 'file' || r.name === 'console') {
      line = true;
    } else {
      // A reporter this table does not know may read any form.
      json = true;
      binary = true;
    }
  }
  const only = !othersToo && lineFormats.size === 1 ? ([...lineFormats][0] as 'json' | 'text') : null;
  return { json, binary, line: line ? { task: task.id, agent } : null, text, linesOnly: only };
}

export function workerCountOf(task: TaskConfig, g: GlobalConfig): number {
  const cap = g.otus.resources.max_workers || os.availableParallelism();
  return Math.max(1, Math.min(task.workers || os.availableParallelism(), cap));
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export class TaskRunner {
  readonly task: TaskConfig;
  readonly workers: number;
  readonly mode: DispatchMode;
  private readonly o: TaskRunnerOptions;
  private readonly control: ControlBlock;
  private readonly controlSab: SharedArrayBuffer;
  private reporters: { name: string; reporter: Reporter }[] = [];
  private sender!: Sender;
  private pipelineThreads: Worker[] = [];
  /** Lines-only tasks: per worker, the port its line batches' buffers go back on once written (PipelineWorkerData.spareBuffers). */
  private sparePorts: MessagePort[] = [];
  private captureThread: Worker | null = null;
  private snapshots = new Map<number, PipelineSnapshot>();
  private captureStats: Extract<CaptureMessage, { type: 'stats' | 'done' }> | null = null;
  private startedAt = 0;
  private captureError: string | null = null;
  private workerError: Error | null = null;
  private finished: Promise<TaskSummary> | null = null;
  private resolveCaptureDone!: () => void;
  private readonly captureDone = new Promise<void>((r) => (this.resolveCaptureDone = r));
  private workersDone: Promise<void>[] = [];

  constructor(o: TaskRunnerOptions) {
    this.o = o;
    this.task = o.task;
    this.workers = workerCountOf(o.task, o.global);
    this.mode = dispatchModeOf(o.task);
    this.controlSab = createControlBlock(this.workers);
    this.control = new ControlBlock(this.controlSab);
  }

  /** True for finite sources (files): nothing may be dropped, the run waits instead. */
  get lossless(): boolean {
    return this.task.capture.file !== undefined || this.task.capture.name === 'pcap';
  }

  async start(): Promise<void> {
    const t = this.task;
    // Resolve every factory before constructing anything.
    lookupPlugin('capturer', t.capture.name);
    resolveFactories('parser', t.parsers);
    resolveFactories('processor', t.processors);
    resolveFactories('reporter', t.reporters);

    const ctx: PluginContext = { taskId: t.id, workerIndex: -1, agent: this.o.agent, log: this.o.log, global: this.o.global };
    const reporters = await buildPlugins('reporter', t.reporters, ctx);
    this.reporters = reporters.map((reporter, i) => ({ name: t.reporters[i]!.name, reporter }));
    for (const r of this.reporters) await r.reporter.start();
    const bp = this.o.global.otus.backpressure;
    this.sender = new Sender(this.reporters, bp.send_buffer.capacity, bp.send_buffer.batch_size, this.lossless, (name, err) =>
      this.o.log('error', `reporter ${name} failed`, { error: err.message }),
    );

    this.startedAt = performance.now();
    const decoder = decoderConfigOf(this.o.global);
    const forms = payloadFormsOf(t, this.o.agent);
    const registry = SharedFlowRegistry.create(this.o.global.otus.core.flow_registry.capacity);
    const rings: FrameRingShared[] = [];
    const ready: Promise<void>[] = [];
    const binding = this.mode === 'binding';
    const boundCapture = binding ? { name: t.capture.name, config: bindingCaptureConfig(t, this.workers) } : null;
    for (let i = 0; i < this.workers; i++) {
      const ring = binding ? null : createFrameRing(bp.pipeline_channel.capacity_bytes);
      if (ring) rings.push(ring);
      const wd: PipelineWorkerData = {
        index: i,
        agent: this.o.agent,
        task: t,
        decoder,
        forms,
        ring,
        capture: boundCapture,
        control: this.controlSab,
        flowRegistry: registry.shared,
        lossless: this.lossless,
        batchSize: bp.send_buffer.batch_size,
      };
      const transferList: MessagePort[] = [];
      if (forms.linesOnly) {
        const ch = new MessageChannel();
        wd.spareBuffers = ch.port2;
        transferList.push(ch.port2);
        this.sparePorts[i] = ch.port1;
      }
      const w = new Worker(new URL(`./worker-main${ext}`, import.meta.url), { workerData: wd, transferList, name: `otus-pipeline-${i}` });
      this.pipelineThreads.push(w);
      ready.push(this.workerReady(w, i));
      this.workersDone.push(this.watchWorker(w, i));
    }
    // Dispatch mode: the capture thread starts now too, so that it loads its
    // modules while the workers load theirs; it opens the source only on
    // 'start', once every worker is ready (a worker that fails to start
    // leaves the source unopened, and a live capture drops nothing meanwhile).
    let capture: { thread: Worker; ready: Promise<void> } | null = null;
    if (!binding) {
      const cd: CaptureThreadData = { task: t, agent: this.o.agent, decoder, rings, control: this.controlSab, lossless: this.lossless };
      capture = this.startCaptureThread(cd, rings);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      // A worker could not build or initialise its plugins: undo what was started.
      await this.abortStart();
      throw e;
    }

    if (capture === null) {
      // Binding mode: every socket is open and in the fan-out group: let them all run.
      for (const w of this.pipelineThreads) w.postMessage({ type: 'run' } satisfies WorkerCommand);
      return;
    }
    capture.thread.postMessage({ type: 'start' } satisfies CaptureCommand);
    // A source that cannot be opened (missing file, unknown interface, bad
    // filter, no privilege) fails the start itself, not the task a moment later.
    try {
      await capture.ready;
    } catch (e) {
      await this.abortStart();
      throw e;
    }
  }

  /** Starts the capture thread (dispatch mode); `ready` settles as captureReady() says. */
  private startCaptureThread(cd: CaptureThreadData, rings: FrameRingShared[]): { thread: Worker; ready: Promise<void> } {
    const cw = new Worker(new URL(`./capture-main${ext}`, import.meta.url), { workerData: cd, name: 'otus-capture' });
    this.captureThread = cw;
    // Listening from the start: the thread may fail while the workers are still starting.
    const ready = this.captureReady(cw);
    ready.catch(() => {}); // awaited once the workers are ready; a failed worker start makes it moot
    cw.on('message', (m: CaptureMessage) => {
      if (m.type === 'log') {
        this.o.log(m.level, m.msg, { ...m.fields, thread: 'capture' });
        return;
      }
      if (m.type === 'ready') return;
      this.captureStats = m;
      if (m.type === 'done') {
        if (m.error) this.captureError = m.error.message;
        this.resolveCaptureDone();
      }
    });
    // A capture thread that dies without closing the rings (it closes them
    // itself on every normal end) must not leave the workers waiting for frames.
    const closeRings = () => rings.forEach((r) => new FrameRingWriter(r).close());
    cw.on('error', (e) => {
      this.captureError = e.message;
      closeRings();
      this.resolveCaptureDone();
    });
    cw.on('exit', () => {
      closeRings();
      this.resolveCaptureDone();
    });
    return { thread: cw, ready };
  }

  /** Resolves when the capture thread has opened its source; rejects with the capturer's error. */
  private captureReady(cw: Worker): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onMessage = (m: CaptureMessage) => {
        if (m.type === 'ready') done();
        else if (m.type === 'done') done(new OtusError(m.error?.message ?? 'capture ended before it started', m.error?.code ?? 'CAPTURE_INIT'));
      };
      const onError = (e: Error) => done(new OtusError(`capture: ${e.message}`, 'CAPTURE_INIT'));
      const onExit = (code: number) => done(new OtusError(`capture thread exited (code ${code}) before it was ready`, 'CAPTURE_INIT'));
      const done = (err?: Error) => {
        cw.off('message', onMessage);
        cw.off('error', onError);
        cw.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      cw.on('message', onMessage);
      cw.on('error', onError);
      cw.on('exit', onExit);
    });
  }

  /** A message from the capturer itself: its runtime errors ("afpacket: ...") and its config errors ("capturer afpacket: ..."). */
  private isCapturerError(message: string): boolean {
    const name = this.task.capture.name;
    return message.startsWith(`${name}:`) || message.startsWith(`capturer ${name}:`);
  }

  /** Resolves when the worker has initialised its plugins; rejects if it fails or exits first. */
  private workerReady(w: Worker, index: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type === 'ready') done();
        // A capturer's own errors (binding mode) already say what failed; the worker index adds nothing.
        else if (m.type === 'error' && this.mode === 'binding' && this.isCapturerError(m.message)) {
          done(new OtusError(m.message, m.code ?? 'CAPTURE_INIT'));
        } else if (m.type === 'error') done(new OtusError(`pipeline ${index}: ${m.message}`, m.code ?? 'PIPELINE_INIT'));
      };
      const onError = (e: Error) => done(new OtusError(`pipeline ${index}: ${e.message}`, 'PIPELINE_INIT'));
      const onExit = (code: number) => done(new OtusError(`pipeline ${index} exited (code ${code}) before it was ready`, 'PIPELINE_INIT'));
      const done = (err?: Error) => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
  }

  private closeSparePorts(): void {
    for (const p of this.sparePorts) p?.close();
    this.sparePorts = [];
  }

  private async abortStart(): Promise<void> {
    this.control.abort();
    if (this.mode === 'binding') await this.closeBoundCapturers();
    // A capture thread still waiting for 'start' would wait for ever.
    const threads = this.captureThread ? [...this.pipelineThreads, this.captureThread] : this.pipelineThreads;
    await Promise.all(threads.map((w) => w.terminate()));
    this.pipelineThreads = [];
    this.closeSparePorts();
    for (const r of this.reporters) {
      try {
        await r.reporter.stop();
      } catch {
        // already failing: the start error is the one to report
      }
    }
    this.resolveCaptureDone();
  }

  /**
   * Binding mode, start failed: the workers that opened their capturer close
   * it (terminating the thread would leave its socket and ring in the
   * process, still in the fan-out group). Bounded: a stuck worker is
   * terminated anyway.
   */
  private async closeBoundCapturers(): Promise<void> {
    const closed = this.pipelineThreads.map(
      (w, i) =>
        new Promise<void>((resolve) => {
          if (this.snapshotsDone.has(i)) return resolve();
          const t = setTimeout(resolve, 2000);
          const end = () => {
            clearTimeout(t);
            resolve();
          };
          w.once('exit', end);
          w.on('message', (m: WorkerMessage) => {
            if (m.type === 'done' || m.type === 'error') end();
          });
          w.postMessage({ type: 'close' } satisfies WorkerCommand);
        }),
    );
    await Promise.all(closed);
  }

  private watchWorker(w: Worker, index: number): Promise<void> {
    return new Promise<void>((resolve) => {
      w.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'records':
            this.onRecords(index, m.records);
            break;
          case 'lines': {
            const back = this.sparePorts[index];
            const bytes = m.bytes;
            // Once every reporter wrote the batch, its buffer goes back to the worker for a later one.
            this.onRecords(index, back === undefined ? { bytes, count: m.count } : { bytes, count: m.count, release: () => back.postMessage(bytes.buffer, [bytes.buffer as ArrayBuffer]) });
            break;
          }
          case 'stats':
            this.snapshots.set(index, m.snapshot);
            break;
          case 'done':
            this.snapshots.set(index, m.snapshot);
            this.snapshotsDone.add(index);
            if (m.captureError) {
              // Binding mode: one capturer failed (interface down...); the task ends, as a failed capture thread ends it.
              this.captureError ??= m.captureError.message;
              this.control.stop();
              this.resolveCaptureDone();
            }
            resolve();
            break;
          case 'ready':
            break;
          case 'error':
            this.workerError ??= new Error(`pipeline ${index}: ${m.message}`);
            this.control.abort();
            if (this.mode === 'binding') this.resolveCaptureDone();
            resolve();
            break;
          case 'log':
            this.o.log(m.level, m.msg, { ...m.fields, worker: index });
            break;
        }
      });
      w.on('error', (e) => {
        this.workerError ??= new Error(`pipeline ${index}: ${e.message}`);
        this.control.abort();
        if (this.mode === 'binding') this.resolveCaptureDone();
        resolve();
      });
      w.on('exit', () => {
        // A worker gone without saying 'done' must not leave others waiting on its progress.
        if (!this.snapshotsDone.has(index)) {
          this.control.abort();
          if (this.mode === 'binding') this.resolveCaptureDone();
        }
        resolve();
      });
    });
  }

  private readonly snapshotsDone = new Set<number>();

  private onRecords(index: number, records: SendItem): void {
    const done = this.sender.enqueue(records);
    if (done) void done.then(() => this.control.releasePending(index));
    else this.control.releasePending(index);
  }

  /** Resolves when the source is exhausted (files) and everything was flushed. */
  wait(): Promise<TaskSummary> {
    this.finished ??= this.captureDone.then(() => {
      // Nothing more will enter the rings: workers drain what is there, then end.
      this.control.stop();
      return this.finish();
    });
    return this.finished;
  }

  /** Stops in order: capturer, pipelines (drained), sender, reporters. */
  stop(): Promise<TaskSummary> {
    this.control.stop();
    // Binding mode: the workers' capturers see the stop flag themselves; there is no capture thread to wait for.
    if (this.mode === 'binding') this.resolveCaptureDone();
    return this.wait();
  }

  private async finish(): Promise<TaskSummary> {
    // The capture thread closed the rings; workers drain them and finish.
    await Promise.all(this.workersDone);
    await this.sender.drain();
    for (const r of this.reporters) {
      try {
        await r.reporter.stop();
      } catch (e) {
        this.o.log('error', `reporter ${r.name} failed to stop`, { error: (e as Error).message });
      }
    }
    await Promise.all([...this.pipelineThreads, ...(this.captureThread ? [this.captureThread] : [])].map((w) => w.terminate()));
    this.closeSparePorts();
    if (this.workerError) throw this.workerError;
    return this.summary();
  }

  /** Live figures (progress bar, metrics, `task status`). */
  summary(): TaskSummary {
    const cs = this.captureStats;
    return {
      taskId: this.task.id,
      workers: this.workers,
      dispatchMode: this.mode,
      elapsedSec: this.startedAt ? (performance.now() - this.startedAt) / 1000 : 0,
      capture: {
        ...(this.mode === 'binding' ? this.boundCaptureStats() : (cs?.stats ?? { packets: 0, bytes: 0, kernelDrops: 0, kernelFreezes: 0 })),
        channelDrops: cs?.channelDrops ?? 0,
      },
      pipelines: mergeSnapshots([...this.snapshots.values()]),
      sender: this.sender ? this.sender.stats() : [],
      reporters: this.reporters.map((r) => ({ name: r.name, ...r.reporter.stats() })),
      error: this.captureError,
    };
  }

  /** Binding mode: the workers' capturers added up (the kernel counts per socket). */
  private boundCaptureStats(): CaptureStats {
    const t: CaptureStats = { packets: 0, bytes: 0, kernelDrops: 0, kernelFreezes: 0 };
    for (const s of this.snapshots.values()) {
      const c = s.capture;
      if (!c) continue;
      t.packets += c.packets;
      t.bytes += c.bytes;
      t.kernelDrops += c.kernelDrops;
      t.kernelFreezes += c.kernelFreezes;
      if (c.kernelPackets !== undefined) t.kernelPackets = (t.kernelPackets ?? 0) + c.kernelPackets;
    }
    return t;
  }

  /** Records from outside the pipelines (policy dataplane events) for this task's reporters. */
  publish(records: OutputRecord[]): void {
    if (this.sender) void this.sender.enqueue(records);
  }

  progress(): number | null {
    return this.captureStats?.progress ?? null;
  }
}
