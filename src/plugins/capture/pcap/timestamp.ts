// pcapng timestamps: a 64-bit count of interface-specific units (if_tsresol:
// 10^-k or 2^-k seconds) plus a whole-second offset (if_tsoffset), turned into
// exact seconds and nanoseconds.
//
// The count arrives as two 32-bit halves. A nanosecond count of today is about
// 2^60, beyond the 2^53 a double holds exactly, so the halves are never simply
// added up: the common resolutions (10^-k with k <= 9, 2^-k with k <= 32) are
// divided with Number arithmetic whose intermediates stay below 2^53, and only
// the exotic ones fall back to BigInt (which allocates, but no common tool
// writes them).
import type { RawPacket } from '../../../core/packet.ts';

const TWO32 = 2 ** 32;
/** 10^9 = 2^9 * 5^9: binary fractions are scaled by 5^9 and shifted by 2^(k-9). */
const FIVE9 = 1_953_125;

const DECIMAL = 0; // 10^-k, k <= 9
const BINARY = 1; // 2^-k, k <= 32
const BIG = 2; // anything else

export class TsUnits {
  private readonly kind: number;
  /** DECIMAL: units per second; BINARY: 2^k. */
  private readonly unitsPerSec: number;
  /** DECIMAL: nanoseconds per unit. */
  private readonly nsPerUnit: number;
  /** BINARY: k. */
  private readonly shift: number;
  private readonly bigUnits: bigint;

  /**
   * `tsresol` is the if_tsresol byte (default 6: microseconds); `offsetSec`
   * the if_tsoffset in seconds (added to every timestamp of the interface).
   */
  constructor(
    readonly tsresol: number = 6,
    readonly offsetSec: number = 0,
  ) {
    const exp = tsresol & 0x7f;
    const binary = (tsresol & 0x80) !== 0;
    this.shift = exp;
    this.unitsPerSec = binary ? 2 ** exp : 10 ** exp;
    this.nsPerUnit = !binary && exp <= 9 ? 10 ** (9 - exp) : 0;
    this.kind = binary ? (exp <= 32 ? BINARY : BIG) : exp <= 9 ? DECIMAL : BIG;
    this.bigUnits = this.kind === BIG ? (binary ? 1n << BigInt(exp) : 10n ** BigInt(exp)) : 0n;
  }

  /** Human form, for messages: "10^-6", "2^-20". */
  get label(): string {
    return `${this.tsresol & 0x80 ? 2 : 10}^-${this.tsresol & 0x7f}`;
  }

  /** Sets pkt.tsSec / pkt.tsNsec from the two halves of the unit count (truncating sub-nanosecond parts). */
  apply(hi: number, lo: number, pkt: RawPacket): void {
    let sec: number;
    let ns: number;
    if (this.kind === DECIMAL) {
      // Long division of hi:lo by U (< 2^30) in three steps: hi, then the two
      // 16-bit halves of lo. Each dividend is below U * 2^16 < 2^46, and each
      // quotient digit below 2^16, so every division is exact in a double.
      const u = this.unitsPerSec;
      const qh = Math.floor(hi / u);
      let r = hi - qh * u;
      let cur = r * 65536 + (lo >>> 16);
      const q1 = Math.floor(cur / u);
      r = cur - q1 * u;
      cur = r * 65536 + (lo & 0xffff);
      const q2 = Math.floor(cur / u);
      r = cur - q2 * u;
      sec = qh * TWO32 + q1 * 65536 + q2;
      ns = r * this.nsPerUnit;
    } else if (this.kind === BINARY) {
      const k = this.shift;
      let frac: number;
      if (k === 32) {
        sec = hi;
        frac = lo;
      } else if (k === 0) {
        sec = hi * TWO32 + lo;
        frac = 0;
      } else {
        sec = hi * 2 ** (32 - k) + (lo >>> k);
        frac = (lo & (2 ** k - 1)) >>> 0;
      }
      // frac < 2^k <= 2^32, so frac * 5^9 < 2^53: exact; dividing by a power of two is exact too.
      ns = k >= 9 ? Math.floor((frac * FIVE9) / 2 ** (k - 9)) : frac * FIVE9 * 2 ** (9 - k);
    } else {
      const t = (BigInt(hi) << 32n) | BigInt(lo);
      const u = this.bigUnits;
      sec = Number(t / u);
      ns = Number(((t % u) * 1_000_000_000n) / u);
    }
    pkt.tsSec = sec + this.offsetSec;
    pkt.tsNsec = ns;
  }
}

/** The 64-bit signed if_tsoffset from its two halves (exact up to 2^53 seconds, far beyond any real offset). */
export function int64FromHalves(hi: number, lo: number): number {
  return (hi | 0) * TWO32 + lo;
}
