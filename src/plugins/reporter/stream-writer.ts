// Writes text or bytes to a Node stream honouring its backpressure: resolves when the
// stream can take more, so a slow terminal or disk slows the sender (whose
// bounded buffer then drops oldest), never the pipeline.
import type { Writable } from 'node:stream';

export function writeText(stream: Writable, text: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed || stream.writableEnded) {
      reject(new Error('output stream is closed'));
      return;
    }
    const ok = stream.write(text, (err) => {
      if (err) reject(err);
      else if (ok) resolve();
    });
    if (!ok) stream.once('drain', resolve);
  });
}
