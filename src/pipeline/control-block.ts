// A small shared Int32 block through which the task's main thread steers its
// threads without messages: a stop flag, and per worker the number of record
// batches posted but not yet taken by the sender (for lossless file runs).
export const CTRL_STOP = 0;
const CTRL_PENDING_BASE = 1;

export function createControlBlock(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer((CTRL_PENDING_BASE + workers) * 4);
}

export class ControlBlock {
  readonly words: Int32Array;
  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
  }
  get stopping(): boolean {
    return Atomics.load(this.words, CTRL_STOP) !== 0;
  }
  stop(): void {
    Atomics.store(this.words, CTRL_STOP, 1);
    Atomics.notify(this.words, CTRL_STOP);
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
