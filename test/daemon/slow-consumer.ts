// A slow downstream for a file task: its file reporter writes into a FIFO that
// the test reads only when it wants to. A file capture is lossless, so the
// full pipe holds the whole task back (reporter -> sender -> pipelines ->
// capture) and the task stays `running` for as long as the test needs,
// whatever the machine's speed. That is the backpressure a slow consumer
// really causes; nothing in the product is slowed down for the test.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync, type ReadStream } from 'node:fs';
import { after } from 'node:test';

/**
 * Readers not closed yet. A reader whose writer never came (the daemon failed
 * to start, the task was refused) holds a thread-pool thread in open(2) and
 * keeps the test process alive: every test file that uses one closes them all
 * at its end, whatever failed on the way.
 */
const unclosed = new Set<SlowConsumer>();
after(() => Promise.all([...unclosed].map((c) => c.close())));

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
    unclosed.add(this);
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

  /**
   * Stops reading. A reader still waiting for a writer is released by opening
   * the other end once. Its open(2) runs on the thread pool and may not even
   * have begun (ENXIO: no reader yet), so that is retried, without blocking,
   * until it has. Resolves once the stream is destroyed.
   */
  async close(): Promise<void> {
    unclosed.delete(this);
    for (let i = 0; i < 500 && this.stream.pending; i++) {
      try {
        closeSync(openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO') break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.stream.destroy();
  }
}
