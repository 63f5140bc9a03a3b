// A slow downstream for a file task: its file reporter writes into a FIFO that
// the test reads only when it wants to. A file capture is lossless, so the
// full pipe holds the whole task back (reporter -> sender -> pipelines ->
// capture) and the task stays `running` for as long as the test needs,
// whatever the machine's speed. That is the backpressure a slow consumer
// really causes; nothing in the product is slowed down for the test.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync, type ReadStream } from 'node:fs';

export function makeFifo(path: string): string {
  execFileSync('mkfifo', ['-m', '0600', path]);
  return path;
}

export class SlowConsumer {
  private readonly stream: ReadStream;
  bytes = 0;
  lines = 0;
  ended = false;

  /** Opens the reading end; the writer's open() completes once this exists. */
  constructor(readonly path: string) {
    // A small buffer: the pipe fills, and the writer blocks, after little data.
    this.stream = createReadStream(path, { highWaterMark: 4096 });
    this.stream.on('data', (d) => {
      const b = d as Buffer;
      this.bytes += b.length;
      for (const x of b) if (x === 0x0a) this.lines++;
    });
    this.stream.on('end', () => (this.ended = true));
    this.stream.on('error', () => (this.ended = true));
    this.stream.pause();
  }

  /** Reads for `ms` milliseconds, then stops reading again. */
  async readFor(ms: number): Promise<void> {
    this.stream.resume();
    await new Promise((r) => setTimeout(r, ms));
    this.stream.pause();
  }

  /** Reads everything from now on (so that the task can be stopped or finish). */
  drain(): void {
    this.stream.resume();
  }

  /** Stops reading. A reader still waiting for a writer is released by opening the other end once. */
  close(): void {
    if (this.stream.pending) {
      try {
        closeSync(openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting after all
      }
    }
    this.stream.destroy();
  }
}
