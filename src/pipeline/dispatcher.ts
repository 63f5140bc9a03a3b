// Dispatch mode (DESIGN section 2): one reader hashes every frame's flow to a
// worker and copies it into that worker's ring. The dispatcher decodes only
// to find the flow; the worker decodes again and does the real work (a decode
// is cheap next to parsing, and it keeps workers independent of the reader).
import { DecodedPacket, type RawPacket } from '../core/packet.ts';
import type { CaptureSink } from '../plugin/interfaces.ts';
import { Decoder } from '../decoder/decoder.ts';
import { DecodeResult, type DecoderConfig } from '../decoder/api.ts';
import { FrameRingWriter, type FrameRingShared } from './frame-ring.ts';
import { flowHash, fragmentGroupHash } from './flow-hash.ts';

const NOTIFY_EVERY = 64;

export class Dispatcher implements CaptureSink {
  private readonly writers: FrameRingWriter[];
  private readonly decoder: Decoder;
  private readonly pkt = new DecodedPacket();
  private frameNo = 0;
  private sinceNotify = 0;
  /** Frames dropped because a worker's ring was full (live capture only). */
  channelDrops = 0;
  /** Frames larger than a ring can carry (never happens with sane ring sizes). */
  oversize = 0;

  constructor(
    rings: FrameRingShared[],
    decoderConfig: DecoderConfig,
    /** Files: refuse (and get the same frame again later) instead of dropping. */
    private readonly lossless: boolean,
  ) {
    this.writers = rings.map((r) => new FrameRingWriter(r));
    this.decoder = new Decoder(decoderConfig);
  }

  /** Which worker a frame belongs to. */
  workerFor(raw: RawPacket): number {
    const n = this.writers.length;
    if (n === 1) return 0;
    const r = this.decoder.decode(raw, this.pkt);
    // Fragments go by datagram (addresses + id) so that one worker holds all
    // the pieces; errors go to worker 0, whose decoder counts them.
    if (r === DecodeResult.HELD || (r === DecodeResult.OK && this.pkt.fragmented)) {
      return fragmentGroupHash(this.pkt) % n;
    }
    if (r !== DecodeResult.OK) return 0;
    return flowHash(this.pkt) % n;
  }

  private target = -1;

  onPacket(raw: RawPacket): boolean {
    // A refused frame is offered again: keep its target and frame number.
    if (this.target < 0) {
      this.target = this.workerFor(raw);
      this.frameNo++;
    }
    const w = this.writers[this.target]!;
    if (raw.data.length > w.maxFrame) {
      this.oversize++;
      this.target = -1;
      return true;
    }
    if (!w.push(raw, this.frameNo)) {
      if (this.lossless) return false;
      this.channelDrops++;
      this.target = -1;
      return true;
    }
    this.target = -1;
    if (++this.sinceNotify >= NOTIFY_EVERY) this.notifyAll();
    return true;
  }

  /** Resolves when the ring that refused the last frame has room again. */
  async ready(): Promise<void> {
    this.notifyAll();
    const w = this.target >= 0 ? this.writers[this.target]! : undefined;
    if (!w) return;
    await new Promise((r) => setTimeout(r, 1));
  }

  notifyAll(): void {
    this.sinceNotify = 0;
    for (const w of this.writers) w.notify();
  }

  close(): void {
    for (const w of this.writers) w.close();
  }

  usage(): number[] {
    return this.writers.map((w) => w.usage());
  }
}
