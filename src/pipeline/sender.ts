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

/**
 * One enqueued batch, shared by every lane it was queued in: the lanes count
 * down as each is done with it (reported, failed, or dropped by its send
 * buffer), and the last one settles it: the lossless enqueue resolves and a
 * line batch's buffer is released.
 */
interface Entry {
  item: SendItem;
  lanes: number;
  /** Lossless: resolves the enqueue of this batch. */
  resolve: (() => void) | null;
}

interface Lane {
  name: string;
  reporter: Reporter;
  /** Queued batches, oldest first; `head` is how far the first one was consumed (record arrays only). */
  queue: Entry[];
  head: number;
  queued: number;
  bufferDrops: number;
  sent: number;
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
      pumping: false,
      idle: [],
    }));
  }

  /** Queues a batch for every reporter. Lossless: resolves once all reporters took this batch. */
  enqueue(batch: SendItem): Promise<void> | undefined {
    const n = sizeOf(batch);
    const entry: Entry = { item: batch, lanes: this.lanes.length, resolve: null };
    // Lossless lanes are never trimmed: records leave them only through the pump.
    const taken = this.lossless ? new Promise<void>((resolve) => (entry.resolve = resolve)) : undefined;
    if (entry.lanes === 0) settle(entry);
    for (const lane of this.lanes) {
      lane.queue.push(entry);
      lane.queued += n;
      if (!this.lossless) this.trim(lane);
      if (!lane.pumping) void this.pump(lane);
    }
    return taken;
  }

  /** Drop-head: the oldest records go first, since the newest are worth more. */
  private trim(lane: Lane): void {
    while (lane.queued > this.capacity) {
      const first = lane.queue[0]!;
      const item = first.item;
      if (!Array.isArray(item)) {
        // A batch of lines cannot be cut: it goes whole (at most one batch more than the excess).
        lane.queued -= item.count;
        lane.bufferDrops += item.count;
        lane.queue.shift();
        lane.head = 0;
        laneDone(first);
        continue;
      }
      const excess = lane.queued - this.capacity;
      const avail = item.length - lane.head;
      const n = Math.min(excess, avail);
      lane.head += n;
      lane.queued -= n;
      lane.bufferDrops += n;
      if (lane.head >= item.length) {
        lane.queue.shift();
        lane.head = 0;
        laneDone(first);
      }
    }
  }

  /** The next batch to report (a record array may go in slices), and the entry it finishes, if it is its last part. */
  private take(lane: Lane): { batch: SendItem; last: Entry | null } {
    const first = lane.queue[0]!;
    const item = first.item;
    if (!Array.isArray(item)) {
      lane.queued -= item.count;
      lane.queue.shift();
      return { batch: item, last: first };
    }
    const n = Math.min(this.batchSize, item.length - lane.head);
    const batch = lane.head === 0 && n === item.length ? item : item.slice(lane.head, lane.head + n);
    lane.head += n;
    lane.queued -= n;
    if (lane.head < item.length) return { batch, last: null };
    lane.queue.shift();
    lane.head = 0;
    return { batch, last: first };
  }

  private async pump(lane: Lane): Promise<void> {
    lane.pumping = true;
    try {
      while (lane.queued > 0) {
        const { batch, last } = this.take(lane);
        try {
          if (Array.isArray(batch)) await lane.reporter.report(batch);
          else if (lane.reporter.reportLines) await lane.reporter.reportLines(batch.bytes, batch.count);
          else throw new Error('reporter does not take lines (a task with it must not run lines-only)');
          lane.sent += sizeOf(batch);
        } catch (e) {
          // Reporters count their own drops; an escaped error must not stop the lane.
          this.onError(lane.name, e as Error);
        }
        if (last !== null) laneDone(last);
      }
    } finally {
      lane.pumping = false;
      const waiters = lane.idle.splice(0);
      for (const w of waiters) w();
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

/** One lane is done with a batch: the last one settles it. */
function laneDone(e: Entry): void {
  if (--e.lanes === 0) settle(e);
}

/** Every lane is done with the batch: its enqueue resolves (lossless) and a line batch's memory may be reused. */
function settle(e: Entry): void {
  e.resolve?.();
  if (!Array.isArray(e.item)) e.item.release?.();
}
