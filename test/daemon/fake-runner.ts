// A stand-in for TaskRunner in the task manager's unit tests: starts, ends,
// fails and reports figures on command, with no threads.
import type { TaskSummary } from '../../src/pipeline/task-runner.ts';
import type { RunnerFactory, TaskRunnerLike } from '../../src/task/task-manager.ts';
import type { TaskConfig } from '../../src/task/task-schema.ts';

export function fakeSummary(id: string, packets: number, error: string | null = null): TaskSummary {
  return {
    taskId: id,
    workers: 1,
    elapsedSec: 1,
    capture: { packets, bytes: packets * 100, kernelDrops: 0, kernelFreezes: 0, channelDrops: 2 },
    pipelines: {
      counters: { received: packets, emitted: packets, filtered: 1, unmatched_forwarded: 3, unmatched_dropped: 4 },
      decodeErrors: { truncated: 5 },
      decoder: {},
      parsed: { sip: 6, rtp: 7 },
      parserStats: {},
      perWorker: [{ index: 0, received: packets, emitted: packets, channelUsage: 0.25 }],
    },
    sender: [{ name: 'file', queued: 0, usage: 0.5, bufferDrops: 8, sent: packets }],
    reporters: [
      { name: 'file', reported: packets, timeoutDrops: 9, errorDrops: 10 },
      { name: 'kafka', reported: packets, timeoutDrops: 0, errorDrops: 0, bufferDrops: 11 },
      { name: 'hep', reported: 3, timeoutDrops: 0, errorDrops: 0, skipped: 12 },
    ],
    error,
  };
}

export class FakeRunner implements TaskRunnerLike {
  packets = 0;
  started = false;
  stopped = false;
  private resolveEnd!: (s: TaskSummary) => void;
  private rejectEnd!: (e: Error) => void;
  private readonly end: Promise<TaskSummary>;

  constructor(
    readonly task: TaskConfig,
    private readonly failStart: Error | null,
  ) {
    this.end = new Promise<TaskSummary>((res, rej) => {
      this.resolveEnd = res;
      this.rejectEnd = rej;
    });
    this.end.catch(() => {});
  }

  async start(): Promise<void> {
    if (this.failStart) throw this.failStart;
    this.started = true;
  }

  wait(): Promise<TaskSummary> {
    return this.end;
  }

  /** When set, stop() waits for releaseStop(): a stop still in progress. */
  holdStop = false;
  private release: (() => void) | null = null;

  async stop(): Promise<TaskSummary> {
    this.stopped = true;
    if (this.holdStop) await new Promise<void>((r) => (this.release = r));
    this.resolveEnd(this.summary());
    return this.end;
  }

  releaseStop(): void {
    this.release?.();
  }

  summary(): TaskSummary {
    if (!this.started) throw new TypeError('not started');
    return fakeSummary(this.task.id, this.packets);
  }

  /** The capture ran out (a file), possibly on an error. */
  finish(error: string | null = null): void {
    this.resolveEnd(fakeSummary(this.task.id, this.packets, error));
  }

  crash(e: Error): void {
    this.rejectEnd(e);
  }
}

export class FakeRunners {
  readonly all: FakeRunner[] = [];
  /** Task ids whose next start fails with this error. */
  readonly failStart = new Map<string, Error>();

  readonly factory: RunnerFactory = (task) => {
    const r = new FakeRunner(task, this.failStart.get(task.id) ?? null);
    this.all.push(r);
    return r;
  };

  last(id: string): FakeRunner {
    const r = this.all.filter((x) => x.task.id === id).at(-1);
    if (!r) throw new Error(`no runner for ${id}`);
    return r;
  }
}

export function taskInput(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, workers: 1, capture: { name: 'pcap', file: `/captures/${id}.pcap` }, reporters: [{ name: 'file', config: { path: `/tmp/${id}.jsonl` } }], ...extra };
}

export { until } from '../helpers/until.ts';
