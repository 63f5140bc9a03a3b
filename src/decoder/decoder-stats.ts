// Decoder counters: plain numbers in typed arrays, read only when a summary is
// asked for. Names use snake_case because they surface in metrics and the CLI
// summary as they are.
import { REASON_COUNT, REASON_NAMES } from './reasons.ts';

export class DecoderStats {
  /** Frames that produced a packet (including reassembled datagrams). */
  decoded = 0;
  /** Frames whose network layer is not IP (ARP, LLDP, ...): dropped, not an error. */
  nonIp = 0;
  /** IP fragments taken into reassembly. */
  fragments = 0;
  /** Datagrams rebuilt from fragments. */
  reassembled = 0;
  /** Fragment groups dropped because their pieces did not all arrive in time. */
  fragmentTimeouts = 0;
  /** Fragment groups dropped because too many groups were in flight. */
  fragmentEvictions = 0;
  /** Packets whose payload the snaplen cut short. */
  truncated = 0;
  /** Packets taken out of a tunnel. */
  decapsulated = 0;
  readonly errors = new Float64Array(REASON_COUNT);

  count(reason: number): void {
    this.errors[reason]!++;
  }

  /** Non-zero error counters by reason name. */
  errorsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < REASON_COUNT; i++) if (this.errors[i]! > 0) out[REASON_NAMES[i]!] = this.errors[i]!;
    return out;
  }

  totalErrors(): number {
    let n = 0;
    for (let i = 0; i < REASON_COUNT; i++) n += this.errors[i]!;
    return n;
  }

  summary(): Record<string, number> {
    return {
      decoded: this.decoded,
      non_ip: this.nonIp,
      fragments: this.fragments,
      reassembled: this.reassembled,
      fragment_timeouts: this.fragmentTimeouts,
      fragment_evictions: this.fragmentEvictions,
      truncated: this.truncated,
      decapsulated: this.decapsulated,
    };
  }
}
