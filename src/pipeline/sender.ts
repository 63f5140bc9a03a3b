// The task's sender (DESIGN sections 2 and 6): takes record batches from the
// pipeline workers and hands them to every reporter, each through its own
// bounded send buffer. A slow reporter costs its own oldest records (drop
// head, counted), never another reporter's and never the capture.
//
// For file captures the run is lossless instead: `enqueue` resolves only when
// every reporter has taken that batch, and the workers wait for that (each
// batch on its own: a worker may post the next batches while the reporters
// write the earlier ones).
import type { LineBatch, OutputRecord } from '../core/record.ts';
import type { Reporter } from '../plugin/interfaces.ts';

/** What the workers hand over: record objects, or records already written as lines. */
export type SendItem = OutputRecord[] | LineBatch;

function sizeOf(it: SendItem): number {
  return Array.isArray(it) ? it.length : it.count;
}

interface Lane {
  name: string;
  reporter: Reporter;
  /** Queued batches, oldest first; `head` is how far the first one was consumed (record arrays only). */
  queue: SendItem[];
  head: number;
  queued: number;
  bufferDrops: number;
  sent: number;
  /** Lossless: records enqueued into this lane, and records its reporter has finished with (reported or failed). */
  enqueued: number;
  finished: number;
  /** Lossless: batches waiting to be finished with, in order: resolve once `finished` reaches `end`. */
  waiters: { end: number; resolve: () => void }[];
  pumping: boolean;
  /** Resolvers waiting for this lane to empty. */
  idle: (() => void)[];
}

export interface SenderStats {
  name: string;
  queued: number;
  usage: number;
  bufferDrops: number;
  sent: number;
}

export class Sender {
  private readonly lanes: Lane[];
  /** Line batches with a release callback: how many lanes still hold each. */
  private readonly holders = new Map<LineBatch, number>();

  constructor(
    reporters: { name: string; reporter: Reporter }[],
    private readonly capacity: number,
    private readonly batchSize: number,
    private readonly lossless: boolean,
    private readonly onError: (reporter: string, err: Error) => void,
  ) {
    this.lanes = reporters.map((r) => ({
      name: r.name,
      reporter: r.reporter,
      queue: [],
      head: 0,
      queued: 0,
      bufferDrops: 0,
      sent: 0,
      enqueued: 0,
      finished: 0,
      waiters: [],
      pumping: false,
      idle: [],
    }));
  }

  /** Queues a batch for every reporter. Lossless: resolves once all reporters took this batch. */
  enqueue(batch: SendItem): Promise<void> | undefined {
    const n = sizeOf(batch);
    const taken: Promise<void>[] = [];
    if (!Array.isArray(batch) && batch.release !== undefined) {
      if (this.lanes.length === 0) batch.release();
      else this.holders.set(batch, this.lanes.length);
    }
    for (const lane of this.lanes) {
      lane.queue.push(batch);
      lane.queued += n;
      if (this.lossless) {
        // Lossless lanes are never trimmed: records leave them only through the pump.
        lane.enqueued += n;
        const end = lane.enqueued;
        taken.push(new Promise<void>((resolve) => lane.waiters.push({ end, resolve })));
      } else this.trim(lane);
      if (!lane.pumping) void this.pump(lane);
    }
    if (!this.lossless) return undefined;
    return taken.length === 1 ? taken[0] : Promise.all(taken).then(() => undefined);
  }

  /** Counts `n` records of the lane as finished with, and resolves the batches that are all done. */
  private finishRecords(lane: Lane, n: number): void {
    lane.finished += n;
    const w = lane.waiters;
    let i = 0;
    while (i < w.length && w[i]!.end <= lane.finished) w[i++]!.resolve();
    if (i > 0) w.splice(0, i);
  }

  /** Drop-head: the oldest records go first, since the newest are worth more. */
  private trim(lane: Lane): void {
    while (lane.queued > this.capacity) {
      const first = lane.queue[0]!;
      if (!Array.isArray(first)) {
        // A batch of lines cannot be cut: it goes whole (at most one batch more than the excess).
        lane.queued -= first.count;
        lane.bufferDrops += first.count;
        lane.queue.shift();
        lane.head = 0;
        this.laneDone(first);
        continue;
      }
      const excess = lane.queued - this.capacity;
      const avail = first.length - lane.head;
      const n = Math.min(excess, avail);
      lane.head += n;
      lane.queued -= n;
      lane.bufferDrops += n;
      if (lane.head >= first.length) {
        lane.queue.shift();
        lane.head = 0;
      }
    }
  }

  private take(lane: Lane): SendItem {
    const first = lane.queue[0]!;
    if (!Array.isArray(first)) {
      lane.queued -= first.count;
      lane.queue.shift();
      return first;
    }
    const n = Math.min(this.batchSize, first.length - lane.head);
    const out = lane.head === 0 && n === first.length ? first : first.slice(lane.head, lane.head + n);
    lane.head += n;
    lane.queued -= n;
    if (lane.head >= first.length) {
      lane.queue.shift();
      lane.head = 0;
    }
    return out;
  }

  private async pump(lane: Lane): Promise<void> {
    lane.pumping = true;
    try {
      while (lane.queued > 0) {
        const batch = this.take(lane);
        try {
          if (Array.isArray(batch)) await lane.reporter.report(batch);
          else if (lane.reporter.reportLines) await lane.reporter.reportLines(batch.bytes, batch.count);
          else throw new Error('reporter does not take lines (a task with it must not run lines-only)');
          lane.sent += sizeOf(batch);
        } catch (e) {
          // Reporters count their own drops; an escaped error must not stop the lane.
          this.onError(lane.name, e as Error);
        }
        if (!Array.isArray(batch)) this.laneDone(batch);
        if (this.lossless) this.finishRecords(lane, sizeOf(batch));
      }
    } finally {
      lane.pumping = false;
      const waiters = lane.idle.splice(0);
      for (const w of waiters) w();
    }
  }

  /** One lane is done with a line batch (written, failed or dropped): the last one releases it. */
  private laneDone(batch: LineBatch): void {
    const left = this.holders.get(batch);
    if (left === undefined) return;
    if (left > 1) this.holders.set(batch, left - 1);
    else {
      this.holders.delete(batch);
      batch.release!();
    }
  }

  /** Resolves when every lane is empty. */
  async drain(): Promise<void> {
    await Promise.all(
      this.lanes.map((lane) =>
        lane.queued === 0 && !lane.pumping ? undefined : new Promise<void>((r) => lane.idle.push(r)),
      ),
    );
  }

  stats(): SenderStats[] {
    return this.lanes.map((l) => ({
      name: l.name,
      queued: l.queued,
      usage: l.queued / this.capacity,
      bufferDrops: l.bufferDrops,
      sent: l.sent,
    }));
  }
}
