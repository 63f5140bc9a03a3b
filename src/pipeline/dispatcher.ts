// Dispatch mode (DESIGN section 2): one reader hashes every frame's flow to a
// worker and copies it into that worker's ring. The dispatcher decodes only
// to find the flow; the worker decodes again and does the real work (a decode
// is cheap next to parsing, and it keeps workers independent of the reader).
import { capturedLength, DecodedPacket, IPPROTO, type RawPacket } from '../core/packet.ts';
import { isStreamParser } from '../reassembly/api.ts';
import type { CaptureSink, Parser } from '../plugin/interfaces.ts';
import type { ControlBlock } from './control-block.ts';
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

  /** Per worker: frame number of the last signalling frame it was given, -1 once it is handled. */
  private readonly lastSignal: Float64Array;
  /** Per worker: frame number of the last frame it was given (-1: none yet). */
  private readonly lastGiven: Float64Array;
  /** The fence of the signalling frame being pushed: (worker, frame) pairs. */
  private readonly fence: Float64Array;
  private isSignal = false;

  constructor(
    rings: FrameRingShared[],
    decoderConfig: DecoderConfig,
    /** Files: refuse (and get the same frame again later) instead of dropping. */
    private readonly lossless: boolean,
    /** Parsers that register flows (SIP): the frames they can handle become ordering barriers. */
    private readonly signalling: Parser[] = [],
    private readonly control: ControlBlock | null = null,
  ) {
    this.writers = rings.map((r) => new FrameRingWriter(r));
    this.decoder = new Decoder(decoderConfig);
    this.lastSignal = new Float64Array(rings.length).fill(-1);
    this.lastGiven = new Float64Array(rings.length).fill(-1);
    this.fence = new Float64Array(2 * rings.length);
  }

  /** Which worker a frame belongs to; also says whether it is a signalling frame (isSignal). */
  workerFor(raw: RawPacket): number {
    this.isSignal = false;
    const n = this.writers.length;
    if (n === 1) return 0;
    const r = this.decoder.decode(raw, this.pkt);
    // Fragments go by datagram (addresses + id) so that one worker holds all
    // the pieces; errors go to worker 0, whose decoder counts them.
    if (r === DecodeResult.HELD) return fragmentGroupHash(this.pkt) % n;
    if (r !== DecodeResult.OK) return 0;
    const pkt = this.pkt;
    this.isSignal = this.isSignalling(pkt);
    // The frame that completes a datagram goes where the other pieces are; a
    // SIP datagram (an INVITE too big for one frame) is still signalling.
    if (pkt.fragmented) return fragmentGroupHash(pkt) % n;
    // Signalling datagrams all go to worker 0. Each is ordered against every
    // earlier frame anyway (fenceFor), so spread over workers they ran one at
    // a time with a hand-over between threads each: a capture of 56 % SIP ran
    // at 21-25K frames/s with two workers against 44-49K with one (33-38K
    // now). On one worker they follow each other in its ring without
    // waiting. (A SIP TCP stream stays on its flow's worker: its segments
    // without data, not signalling, must reach the same reassembler.)
    if (this.isSignal && pkt.protocol === IPPROTO.UDP) return 0;
    return flowHash(pkt) % n;
  }

  /** Whether a signalling parser (SIP) takes this decoded frame, as a datagram or as a segment of a stream it frames. */
  private isSignalling(pkt: DecodedPacket): boolean {
    const sig = this.signalling;
    // SIP over TCP is signalling too: a data-carrying segment of a stream a
    // signalling parser would frame is ordered like a UDP SIP datagram.
    const tcpData = pkt.protocol === IPPROTO.TCP && pkt.payloadLength > 0;
    for (let i = 0; i < sig.length; i++) {
      const p = sig[i]!;
      if (p.canHandle(pkt) || (tcpData && isStreamParser(p) && p.canHandleStream(pkt))) return true;
    }
    return false;
  }

  /**
   * The ordering barrier for a frame going to worker `t`: the most recent
   * signalling frame given to another worker and not yet handled there. The
   * worker waits for it, so the flows it registers exist before any later
   * frame is looked up (DESIGN section 2: a registration is seen by every
   * worker before the media can arrive).
   */
  private barrierFor(t: number): number {
    const last = this.lastSignal;
    let best = -1;
    for (let w = 0; w < last.length; w++) {
      if (w === t || last[w]! < 0) continue;
      if (this.control !== null && this.control.progressed(w, last[w]!)) {
        last[w] = -1;
        continue;
      }
      if (best < 0 || last[w]! > last[best]!) best = w;
    }
    return best;
  }

  /**
   * The fence of a signalling frame going to worker `t`: for every other
   * worker, the last frame it was given and has not handled yet. The frame
   * waits for all of them, so that what it changes in the FlowRegistry (a BYE
   * releasing a call's flows, an INVITE taking over the ports of an ended
   * call, a re-INVITE moving media) is not seen by frames captured before it.
   * Every wait is for an earlier frame, so workers never wait in a cycle.
   */
  private fenceFor(t: number): number {
    const given = this.lastGiven;
    let n = 0;
    for (let w = 0; w < given.length; w++) {
      const f = given[w]!;
      if (w === t || f < 0) continue;
      if (this.control !== null && this.control.progressed(w, f)) continue;
      this.fence[2 * n] = w;
      this.fence[2 * n + 1] = f;
      n++;
    }
    return n;
  }

  private target = -1;

  onPacket(raw: RawPacket): boolean {
    // A refused frame is offered again: keep its target and frame number.
    if (this.target < 0) {
      this.target = this.workerFor(raw);
      this.frameNo++;
    }
    const w = this.writers[this.target]!;
    if (capturedLength(raw) > w.maxFrame) {
      this.oversize++;
      this.target = -1;
      this.isSignal = false;
      return true;
    }
    const bw = this.lastSignalAny ? this.barrierFor(this.target) : -1;
    const fc = this.isSignal ? this.fenceFor(this.target) : 0;
    if (!w.push(raw, this.frameNo, bw, bw >= 0 ? this.lastSignal[bw]! : 0, this.fence, fc)) {
      if (this.lossless) return false;
      this.channelDrops++;
      this.target = -1;
      this.isSignal = false;
      return true;
    }
    this.lastGiven[this.target] = this.frameNo;
    if (this.isSignal) {
      this.lastSignal[this.target] = this.frameNo;
      this.lastSignalAny = true;
      this.isSignal = false;
    }
    this.target = -1;
    if (++this.sinceNotify >= NOTIFY_EVERY) this.notifyAll();
    return true;
  }

  /** Whether any signalling frame was dispatched yet (spares the barrier scan until one is). */
  private lastSignalAny = false;

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
