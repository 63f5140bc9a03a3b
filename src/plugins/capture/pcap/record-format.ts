// What the driver (capture-reader.ts) expects of a file format's record
// parser. The parser works synchronously on bytes already in the buffer, so
// that the per-packet loop has no promise and no closure in it; the driver
// awaits more bytes only when the parser says it has run out.
import type { RawPacket } from '../../../core/packet.ts';

/** `pkt` was filled with the next packet and the reader advanced past it. */
export const PACKET = 0;
/** The buffer holds less than `need` bytes from the reader's position: fill and call again. */
export const MORE = 1;

export interface RecordFormat {
  /** 'pcap' or 'pcapng', for messages. */
  readonly name: string;
  /** After MORE: unread bytes needed before next() can progress. */
  readonly need: number;
  /**
   * After MORE: true when the reader sits between records, so that running
   * out of bytes there is the clean end of the file rather than truncation.
   */
  readonly atBoundary: boolean;
  /** Parses from the reader's position. Throws CaptureFileError on damage. */
  next(pkt: RawPacket): number;
  /** After MORE at the end of the stream with `available` < need bytes: what is wrong, for the error message. */
  truncation(available: number): string;
}
