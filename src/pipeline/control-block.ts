// A small shared Int32 block through which the task's main thread steers its
// threads without messages: a stop flag, and per worker the number of record
// batches posted but not yet taken by the sender (for lossless file runs), the
// last frame it handled, and whether it has finished its ring.
export const CTRL_STOP = 0;
/** Set when a thread failed: nobody may wait for another thread any more. */
const CTRL_ABORT = 1;
const CTRL_PENDING_BASE = 2;
const WORDS_PER_WORKER = 3; // pending batches, last frame handled, finished

export function createControlBlock(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer((CTRL_PENDING_BASE + WORDS_PER_WORKER * workers) * 4);
}

export class ControlBlock {
  readonly words: Int32Array;
  private readonly progressBase: number;
  private readonly finishedBase: number;
  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
    const workers = (this.words.length - CTRL_PENDING_BASE) / WORDS_PER_WORKER;
    this.progressBase = CTRL_PENDING_BASE + workers;
    this.finishedBase = CTRL_PENDING_BASE + 2 * workers;
  }

  /** Records that `worker` has handled frame `frameNo` (low 32 bits kept; compared with wrap-around). */
  setProgress(worker: number, frameNo: number): void {
    Atomics.store(this.words, this.progressBase + worker, frameNo | 0);
  }

  /** True once `worker` has handled frame `frameNo`. */
  progressed(worker: number, frameNo: number): boolean {
    return ((Atomics.load(this.words, this.progressBase + worker) - (frameNo | 0)) | 0) >= 0;
  }

  /** Wakes workers waiting on `worker`'s progress (once per batch, not per frame). */
  notifyProgress(worker: number): void {
    Atomics.notify(this.words, this.progressBase + worker);
  }

  /**
   * Blocks until `worker` has handled frame `frameNo` (low 32 bits), or the
   * task aborts. A stop does not end the wait: after a stop every worker
   * still drains its ring in order, so the frame awaited is handled. Frames are handled in order, so a worker's last handled
   * frame number says every earlier one it was given is done.
   */
  waitProgress(worker: number, frameNo: number): void {
    const i = this.progressBase + worker;
    for (;;) {
      const cur = Atomics.load(this.words, i);
      if (((cur - (frameNo | 0)) | 0) >= 0 || this.aborted || this.finished(worker)) return;
      Atomics.wait(this.words, i, cur, 1);
    }
  }

  /**
   * `worker` has drained its ring for good: whatever it was given is handled,
   * so nobody may wait on its progress any more. (Without this, a wait for a
   * frame the worker never reported would outlive the worker and hang the
   * task's stop.)
   */
  setFinished(worker: number): void {
    Atomics.store(this.words, this.finishedBase + worker, 1);
    Atomics.notify(this.words, this.progressBase + worker);
  }

  finished(worker: number): boolean {
    return Atomics.load(this.words, this.finishedBase + worker) !== 0;
  }
  get stopping(): boolean {
    return Atomics.load(this.words, CTRL_STOP) !== 0;
  }
  stop(): void {
    Atomics.store(this.words, CTRL_STOP, 1);
    Atomics.notify(this.words, CTRL_STOP);
  }
  get aborted(): boolean {
    return Atomics.load(this.words, CTRL_ABORT) !== 0;
  }
  /** A thread failed: stop, and release every thread waiting on another. */
  abort(): void {
    Atomics.store(this.words, CTRL_ABORT, 1);
    this.stop();
    for (let i = CTRL_PENDING_BASE; i < this.finishedBase; i++) Atomics.notify(this.words, i);
  }
  pending(worker: number): number {
    return Atomics.load(this.words, CTRL_PENDING_BASE + worker);
  }
  addPending(worker: number): void {
    Atomics.add(this.words, CTRL_PENDING_BASE + worker, 1);
  }
  releasePending(worker: number): void {
    Atomics.sub(this.words, CTRL_PENDING_BASE + worker, 1);
    Atomics.notify(this.words, CTRL_PENDING_BASE + worker);
  }
  /** Blocks the calling worker while `pending(worker) >= max`, up to `ms`. */
  waitPendingBelow(worker: number, max: number, ms: number): void {
    const cur = this.pending(worker);
    if (cur < max) return;
    Atomics.wait(this.words, CTRL_PENDING_BASE + worker, cur, ms);
  }
}
