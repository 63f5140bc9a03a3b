// The log file output (ADR-018, ADR-025): rotated when it would grow past
// max_size_mb, old files gzip-compressed, and backups beyond max_backups or
// older than max_age_days removed, as lumberjack does for the Go version.
// rotating-file-stream does the rotation and compression; pruning is ours
// because it has no age limit and its count limit needs a history file.
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export interface RotationOptions {
  path: string;
  maxSizeBytes: number;
  /** Rotated files kept; 0 keeps them all (lumberjack's meaning). */
  maxBackups: number;
  /** Rotated files older than this are removed; 0 keeps them whatever their age. */
  maxAgeDays: number;
  compress: boolean;
  onError: (e: Error) => void;
}

/** otus-2026-02-21T10-00-00.000Z.log: sorts by time, and says when it was rotated. */
function backupName(stem: string, ext: string, time: Date, index: number, gz: boolean): string {
  const stamp = time.toISOString().replace(/:/g, '-');
  // With a name generator of ours, rotating-file-stream writes the gzip data under exactly this name.
  return `${stem}-${stamp}${index > 1 ? `-${index}` : ''}${ext}${gz ? '.gz' : ''}`;
}

export class RotatingLogFile {
  private readonly stream: RotatingFileStream;
  private readonly dir: string;
  private readonly stem: string;
  private readonly ext: string;
  private pruning: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(private readonly o: RotationOptions) {
    this.dir = dirname(o.path);
    this.ext = extname(o.path);
    this.stem = basename(o.path, this.ext);
    const name = basename(o.path);
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    this.stream = createStream((time: Date | number, index?: number) => (time instanceof Date ? backupName(this.stem, this.ext, time, index ?? 1, o.compress) : name), {
      path: this.dir,
      size: `${Math.max(1, Math.round(o.maxSizeBytes))}B`,
      mode: 0o640,
      ...(o.compress ? { compress: 'gzip' as const } : {}),
    });
    this.stream.on('rotated', () => this.prune());
    this.stream.on('warning', (e: Error) => o.onError(e));
    // After an error the stream is closed for good: report once and drop what follows.
    this.stream.on('error', (e: Error) => {
      this.failed = true;
      o.onError(e);
    });
    this.prune();
  }

  write(line: string): void {
    if (!this.failed) this.stream.write(line);
  }

  /** Rotated files, oldest first. */
  async backups(): Promise<string[]> {
    const prefix = `${this.stem}-`;
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .filter((n) => n.startsWith(prefix) && (n.endsWith(this.ext) || n.endsWith(`${this.ext}.gz`)))
      .sort()
      .map((n) => join(this.dir, n));
  }

  /** Resolves when the pruning started by the last rotation is done. */
  settled(): Promise<void> {
    return this.pruning;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.failed || this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
    }).then(() => this.pruning);
  }

  private prune(): void {
    this.pruning = this.pruning.then(() => this.pruneNow()).catch((e: Error) => this.o.onError(e));
  }

  private async pruneNow(): Promise<void> {
    const files = await this.backups();
    const doomed = new Set<string>();
    if (this.o.maxBackups > 0) for (const f of files.slice(0, Math.max(0, files.length - this.o.maxBackups))) doomed.add(f);
    if (this.o.maxAgeDays > 0) {
      const limit = Date.now() - this.o.maxAgeDays * 86_400_000;
      for (const f of files) {
        const st = await stat(f).catch(() => null);
        if (st && st.mtimeMs < limit) doomed.add(f);
      }
    }
    for (const f of doomed) await rm(f, { force: true });
  }
}
