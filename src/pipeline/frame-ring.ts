// A single-producer single-consumer ring of captured frames in shared memory:
// how the dispatch-mode reader hands frames to one pipeline worker without a
// message (and a copy of a message) per packet.
//
// Layout: a control Int32Array (read index, write index, flags, waiters) and a
// data area. Each record is a 40-byte header followed by the frame bytes and
// the record's fence (see push), padded to 8 bytes. A record never wraps: when it does not fit before the end,
// the producer writes a WRAP marker and starts again at 0. One 8-byte gap is
// always kept free so that read === write means empty.
import { capturedLength, frameBytes, type RawPacket } from '../core/packet.ts';

const CTRL_READ = 0;
const CTRL_WRITE = 1;
const CTRL_CLOSED = 2; // producer finished: no more records will come
const CTRL_WORDS = 4;

/**
 * Record header: len u32, origLen u32, tsSec u32, tsNsec u32, frameNo (2 x u32), linkType u16, ifIndex u16,
 * barrier worker i32, barrier frame u32, fence entries u32. The fence entries (worker i32, frame u32 each)
 * follow the frame bytes.
 */
export const RECORD_HEADER_BYTES = 40;
const HDR = RECORD_HEADER_BYTES;
const WRAP = 0xffffffff;

export interface FrameRingShared {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function createFrameRing(bytes: number): FrameRingShared {
  const size = Math.max(1 << 16, bytes - (bytes % 8));
  return { control: new SharedArrayBuffer(CTRL_WORDS * 4), data: new SharedArrayBuffer(size) };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** The producer side (the dispatcher). */
export class FrameRingWriter {
  private readonly ctrl: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly size: number;

  constructor(shared: FrameRingShared) {
    this.ctrl = new Int32Array(shared.control);
    this.bytes = new Uint8Array(shared.data);
    this.view = new DataView(shared.data);
    this.size = shared.data.byteLength;
  }

  /** Largest frame a record can carry. */
  get maxFrame(): number {
    return (this.size >> 1) - HDR;
  }

  /**
   * Writes one frame; false when the ring is full (the caller waits or drops).
   * The barrier is one (worker, frame) the consumer must wait for before
   * handling this frame; the fence, `fenceCount` (worker, frame) pairs taken
   * from `fence` (worker at 2i, frame at 2i+1), is a list of them.
   */
  push(pkt: RawPacket, frameNo: number, barrierWorker = -1, barrierFrame = 0, fence: Float64Array | null = null, fenceCount = 0): boolean {
    const len = capturedLength(pkt);
    const need = align8(HDR + len + 8 * fenceCount);
    const size = this.size;
    const read = Atomics.load(this.ctrl, CTRL_READ);
    let write = this.ctrl[CTRL_WRITE]!; // only we write it
    if (write + need > size) {
      // Record does not fit before the end: wrap, if the start is free.
      if (read > write || need >= read) return false;
      if (write + 4 <= size) this.view.setUint32(write, WRAP, true);
      write = 0;
      Atomics.store(this.ctrl, CTRL_WRITE, 0);
    } else if (read > write ? write + need >= read : write + need === size && read === 0) {
      // Full: the record would reach the reader's position (ahead of us, or
      // at 0 when the record ends exactly at the end and the write index
      // wraps), and read === write would then say "empty" with the ring full.
      return false;
    }
    const v = this.view;
    v.setUint32(write, len, true);
    v.setUint32(write + 4, pkt.origLen, true);
    v.setUint32(write + 8, pkt.tsSec, true);
    v.setUint32(write + 12, pkt.tsNsec, true);
    v.setUint32(write + 16, frameNo % 0x100000000, true);
    v.setUint32(write + 20, Math.floor(frameNo / 0x100000000), true);
    v.setUint16(write + 24, pkt.linkType, true);
    v.setUint16(write + 26, pkt.ifIndex, true);
    v.setInt32(write + 28, barrierWorker, true);
    v.setUint32(write + 32, barrierFrame >>> 0, true);
    v.setUint32(write + 36, fenceCount, true);
    this.bytes.set(frameBytes(pkt), write + HDR);
    for (let i = 0, f = write + HDR + len; i < fenceCount; i++, f += 8) {
      v.setInt32(f, fence![2 * i]!, true);
      v.setUint32(f + 4, fence![2 * i + 1]! >>> 0, true);
    }
    let next = write + need;
    if (next >= size) next = 0;
    Atomics.store(this.ctrl, CTRL_WRITE, next);
    return true;
  }

  /** Wakes a consumer sleeping in waitForData (call once per batch, not per packet). */
  notify(): void {
    Atomics.notify(this.ctrl, CTRL_WRITE);
  }

  /** Fraction of the ring in use, for the channel usage metric. */
  usage(): number {
    const read = Atomics.load(this.ctrl, CTRL_READ);
    const write = this.ctrl[CTRL_WRITE]!;
    const used = write >= read ? write - read : this.size - read + write;
    return used / this.size;
  }

  /** Blocks (this thread) until the consumer frees room or `ms` pass. */
  waitForRoom(ms: number): void {
    const read = Atomics.load(this.ctrl, CTRL_READ);
    Atomics.wait(this.ctrl, CTRL_READ, read, ms);
  }

  close(): void {
    Atomics.store(this.ctrl, CTRL_CLOSED, 1);
    Atomics.notify(this.ctrl, CTRL_WRITE);
  }
}

/** The consumer side (a pipeline worker). */
export class FrameRingReader {
  private readonly ctrl: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly size: number;
  /** Frame number of the record last read. */
  frameNo = 0;
  /**
   * Ordering barrier of the record being handled: the worker that must have
   * handled frame `barrierFrame` (low 32 bits) first, or -1 for none.
   */
  barrierWorker = -1;
  barrierFrame = 0;
  /** Fence of the record being handled: `fenceCount` (worker, frame low 32 bits) pairs in `fence`. */
  fenceCount = 0;
  fence = new Int32Array(16);

  constructor(shared: FrameRingShared) {
    this.ctrl = new Int32Array(shared.control);
    this.bytes = new Uint8Array(shared.data);
    this.view = new DataView(shared.data);
    this.size = shared.data.byteLength;
  }

  /**
   * Reads up to `max` records into `pkt` one at a time, calling `each` for
   * every one; returns how many were read. Room is released after the batch.
   */
  drain(pkt: RawPacket, max: number, each: (pkt: RawPacket, frameNo: number) => void): number {
    let read = this.ctrl[CTRL_READ]!;
    const write = Atomics.load(this.ctrl, CTRL_WRITE);
    const v = this.view;
    let n = 0;
    while (read !== write && n < max) {
      if (read + HDR > this.size || v.getUint32(read, true) === WRAP) {
        read = 0;
        if (read === write) break;
      }
      const len = v.getUint32(read, true);
      pkt.origLen = v.getUint32(read + 4, true);
      pkt.tsSec = v.getUint32(read + 8, true);
      pkt.tsNsec = v.getUint32(read + 12, true);
      const frameNo = v.getUint32(read + 16, true) + v.getUint32(read + 20, true) * 0x100000000;
      pkt.linkType = v.getUint16(read + 24, true);
      pkt.ifIndex = v.getUint16(read + 26, true);
      this.barrierWorker = v.getInt32(read + 28, true);
      this.barrierFrame = v.getUint32(read + 32, true);
      const fc = v.getUint32(read + 36, true);
      this.fenceCount = fc;
      if (fc > 0) {
        if (this.fence.length < 2 * fc) this.fence = new Int32Array(2 * fc);
        for (let i = 0, f = read + HDR + len; i < fc; i++, f += 8) {
          this.fence[2 * i] = v.getInt32(f, true);
          this.fence[2 * i + 1] = v.getInt32(f + 4, true);
        }
      }
      // The whole ring and the frame's bounds: no view per frame (RawPacket).
      pkt.data = this.bytes;
      pkt.offset = read + HDR;
      pkt.end = read + HDR + len;
      each(pkt, frameNo);
      read += align8(HDR + len + 8 * fc);
      if (read >= this.size) read = 0;
      n++;
    }
    if (n > 0) {
      Atomics.store(this.ctrl, CTRL_READ, read);
      Atomics.notify(this.ctrl, CTRL_READ);
    }
    return n;
  }

  isEmpty(): boolean {
    return Atomics.load(this.ctrl, CTRL_READ) === Atomics.load(this.ctrl, CTRL_WRITE);
  }

  /** Fraction of the ring in use, for the channel usage metric. */
  usage(): number {
    const read = Atomics.load(this.ctrl, CTRL_READ);
    const write = Atomics.load(this.ctrl, CTRL_WRITE);
    const used = write >= read ? write - read : this.size - read + write;
    return used / this.size;
  }

  /** True once the producer closed the ring and every record was read. */
  isFinished(): boolean {
    return Atomics.load(this.ctrl, CTRL_CLOSED) === 1 && this.isEmpty();
  }

  /** Sleeps until the producer writes or `ms` pass. */
  waitForData(ms: number): void {
    const write = Atomics.load(this.ctrl, CTRL_WRITE);
    if (write !== Atomics.load(this.ctrl, CTRL_READ)) return;
    if (Atomics.load(this.ctrl, CTRL_CLOSED) === 1) return;
    Atomics.wait(this.ctrl, CTRL_WRITE, write, ms);
  }
}
