// Reads a capture file to the end (or to its damage) and keeps copies of the packets.
import assert from 'node:assert/strict';
import { CaptureFileError } from '../../src/core/errors.ts';
import { readCaptureFile, type ReaderOptions } from '../../src/plugins/capture/pcap/index.ts';
import { copyPacket, type Expected } from './pcap-build.ts';

export interface ReadResult {
  packets: Expected[];
  error: unknown;
}

export async function readAll(path: string, opts: ReaderOptions = {}): Promise<ReadResult> {
  const packets: Expected[] = [];
  let error: unknown = null;
  try {
    await readCaptureFile(path, (p) => packets.push(copyPacket(p)), opts);
  } catch (e) {
    error = e;
  }
  return { packets, error };
}

/** Compares delivered packets field by field, naming the packet that differs. */
export function assertPackets(got: readonly Expected[], want: readonly Expected[]): void {
  assert.equal(got.length, want.length, `packet count: got ${got.length}, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    assert.deepEqual(
      { origLen: g.origLen, tsSec: g.tsSec, tsNsec: g.tsNsec, linkType: g.linkType, ifIndex: g.ifIndex, caplen: g.data.length },
      { origLen: w.origLen, tsSec: w.tsSec, tsNsec: w.tsNsec, linkType: w.linkType, ifIndex: w.ifIndex, caplen: w.data.length },
      `packet ${i}`,
    );
    assert.ok(Buffer.from(g.data).equals(Buffer.from(w.data)), `packet ${i}: bytes differ`);
  }
}

/** Asserts a CaptureFileError at `offset` whose message matches `what`. */
export function assertDamage(error: unknown, path: string, offset: number, what: RegExp): void {
  assert.ok(error instanceof CaptureFileError, `expected a CaptureFileError, got ${String(error)}`);
  assert.equal(error.offset, offset, `offset in: ${error.message}`);
  assert.equal(error.file, path);
  assert.ok(error.message.includes(path), error.message);
  assert.ok(error.message.includes(`at byte offset ${offset}:`), error.message);
  assert.match(error.message, what);
}
