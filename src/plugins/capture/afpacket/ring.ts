// The TPACKET_V3 receive ring, read from TypeScript over the mapped memory.
//
// The kernel fills fixed-size blocks in order and hands each one over by
// setting its block_status to TP_STATUS_USER (when the block is full or its
// retire timer fires). We walk the packets of a handed-over block, give each
// one to the sink as a view into the ring, and hand the block back with
// TP_STATUS_KERNEL. No native call happens here: the only crossings are the
// waits for the next block, in the capturer.
//
// Layouts (linux/if_packet.h), host byte order, offsets in bytes:
//   struct tpacket_block_desc: version 0, offset_to_priv 4, then
//     tpacket_hdr_v1: block_status 8, num_pkts 12, offset_to_first_pkt 16,
//     blk_len 20, seq_num 24 (u64), ts_first_pkt 32, ts_last_pkt 40
//   struct tpacket3_hdr: tp_next_offset 0, tp_sec 4, tp_nsec 8, tp_snaplen 12,
//     tp_len 16, tp_status 20, tp_mac 24 (u16), tp_net 26 (u16),
//     hv1 { tp_rxhash 28, tp_vlan_tci 32, tp_vlan_tpid 36 (u16) }
import { EMPTY, LinkType, newRawPacket, type RawPacket } from '../../../core/packet.ts';
import type { CaptureSink } from '../../../plugin/interfaces.ts';

export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_VLAN_VALID = 0x10;
export const TP_STATUS_VLAN_TPID_VALID = 0x40;

export const BLOCK_STATUS = 8;
export const BLOCK_NUM_PKTS = 12;
export const BLOCK_FIRST_PKT = 16;
export const BLOCK_SEQ = 24;
/** sizeof(struct tpacket_block_desc) rounded as the kernel does (BLK_PLUS_PRIV with no private area). */
export const BLOCK_HDR_LEN = 48;
/** TPACKET_ALIGN(sizeof(struct tpacket3_hdr)). */
export const TPACKET3_HDR_LEN = 48;
/** Bytes the socket reserves before each frame (PACKET_RESERVE) so a stripped VLAN tag can be put back in place. */
export const VLAN_RESERVE = 4;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads one mapped ring. Reuses a single RawPacket; `data` is a view into the
 * ring, valid only during `sink.onPacket`, because the block goes back to the
 * kernel (which overwrites it) right after the last packet of the block.
 */
export class RingReader {
  private u8: Uint8Array;
  private u16: Uint16Array;
  private u32: Uint32Array;
  private cursor = 0;
  private readonly pkt: RawPacket = newRawPacket();
  /** Packets and wire bytes (origLen) handed to the sink. */
  packets = 0;
  bytes = 0;
  /** Packets whose header pointed outside their block (never seen from a sane kernel; counted, not delivered). */
  malformed = 0;

  constructor(
    ring: ArrayBuffer,
    private readonly blockSize: number,
    private readonly blockCount: number,
    private readonly linkType: number,
    ifIndex: number,
    private readonly snaplen: number,
  ) {
    this.u8 = new Uint8Array(ring);
    this.u16 = new Uint16Array(ring);
    this.u32 = new Uint32Array(ring);
    this.pkt.linkType = linkType;
    this.pkt.ifIndex = ifIndex;
  }

  /** True when the next block in ring order has been handed to user space. */
  ready(): boolean {
    if (this.u32.length === 0) return false;
    return (Atomics.load(this.u32, (this.cursor * this.blockSize + BLOCK_STATUS) >>> 2) & TP_STATUS_USER) !== 0;
  }

  /**
   * Delivers every packet of up to `maxBlocks` handed-over blocks, in ring
   * order, returning each block to the kernel after its last packet; stops at
   * the first block the kernel still owns. Returns the number of blocks.
   *
   * The sink's answer is ignored on purpose: a live source cannot wait, so a
   * live sink never refuses (the Dispatcher/pipeline counts its own drops,
   * ADR-001), and holding a block back would only make the kernel drop.
   */
  drain(sink: CaptureSink, maxBlocks: number): number {
    const u32 = this.u32;
    if (u32.length === 0) return 0;
    let n = 0;
    while (n < maxBlocks) {
      const block = this.cursor * this.blockSize;
      const statusIdx = (block + BLOCK_STATUS) >>> 2;
      if ((Atomics.load(u32, statusIdx) & TP_STATUS_USER) === 0) break;
      try {
        this.walkBlock(block, sink);
      } finally {
        // Release store: our reads of the block happen before the kernel may reuse it.
        Atomics.store(u32, statusIdx, TP_STATUS_KERNEL);
        this.cursor = this.cursor + 1 === this.blockCount ? 0 : this.cursor + 1;
        this.forget();
      }
      n++;
    }
    return n;
  }

  private walkBlock(block: number, sink: CaptureSink): void {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const pkt = this.pkt;
    const end = block + this.blockSize;
    const count = u32[(block + BLOCK_NUM_PKTS) >>> 2]!;
    const reinsertVlan = this.linkType === LinkType.ETHERNET;
    let off = block + u32[(block + BLOCK_FIRST_PKT) >>> 2]!;
    for (let i = 0; i < count; i++) {
      if (off + TPACKET3_HDR_LEN > end) {
        this.malformed += count - i;
        return;
      }
      const h = off >>> 2;
      const next = u32[h]!;
      let start = off + u16[(off + 24) >>> 1]!;
      let caplen = u32[h + 3]!;
      let origLen = u32[h + 4]!;
      const status = u32[h + 5]!;
      if (start + caplen > end || start < off + TPACKET3_HDR_LEN) {
        this.malformed += count - i;
        return;
      }
      // The kernel strips the outer VLAN tag into metadata before packet
      // sockets see the frame; put it back where it was on the wire (as
      // libpcap does), moving the two MAC addresses into the reserved bytes.
      if (reinsertVlan && (status & TP_STATUS_VLAN_VALID) !== 0 && caplen >= 12 && start - VLAN_RESERVE >= off + TPACKET3_HDR_LEN) {
        const tci = u32[h + 8]! & 0xffff;
        const tpid = (status & TP_STATUS_VLAN_TPID_VALID) !== 0 ? u16[(off + 36) >>> 1]! : 0x8100;
        u8.copyWithin(start - VLAN_RESERVE, start, start + 12);
        start -= VLAN_RESERVE;
        u8[start + 12] = tpid >>> 8;
        u8[start + 13] = tpid & 0xff;
        u8[start + 14] = tci >>> 8;
        u8[start + 15] = tci & 0xff;
        caplen = Math.min(caplen + VLAN_RESERVE, this.snaplen);
        origLen += VLAN_RESERVE;
      }
      // The ring and the frame's bounds, not a view per frame (RawPacket).
      pkt.data = u8;
      pkt.offset = start;
      pkt.end = start + caplen;
      pkt.origLen = origLen;
      pkt.tsSec = u32[h + 1]!;
      pkt.tsNsec = u32[h + 2]!;
      this.packets++;
      this.bytes += origLen;
      sink.onPacket(pkt);
      if (next === 0) break;
      off += next;
    }
  }

  /**
   * After a wake-up found the next block still the kernel's: finds the oldest
   * handed-over block (lowest seq_num) and continues from there. Our cursor
   * only moves in step with the kernel's, so this is a guard against spinning
   * on readiness we would never consume, not a path we expect to take.
   */
  resync(): boolean {
    if (this.u32.length === 0) return false;
    let best = -1;
    let bestSeq = 0n;
    const dv = new DataView(this.u8.buffer, this.u8.byteOffset, this.u8.byteLength);
    for (let b = 0; b < this.blockCount; b++) {
      const base = b * this.blockSize;
      if ((Atomics.load(this.u32, (base + BLOCK_STATUS) >>> 2) & TP_STATUS_USER) === 0) continue;
      const seq = dv.getBigUint64(base + BLOCK_SEQ, HOST_LE);
      if (best < 0 || seq < bestSeq) {
        best = b;
        bestSeq = seq;
      }
    }
    if (best < 0 || best === this.cursor) return false;
    this.cursor = best;
    return true;
  }

  /** The packet no longer refers to the ring (a block handed back, or the ring closed). */
  private forget(): void {
    this.pkt.data = EMPTY;
    this.pkt.offset = 0;
    this.pkt.end = -1;
  }

  /** Drops every view on the ring (the memory is about to be unmapped). */
  close(): void {
    this.forget();
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.u32 = new Uint32Array(0);
  }
}
