// Reporter "file": JSON lines (the public record format) appended to a file,
// rotated by size: otus.jsonl -> otus.jsonl.1 -> ... -> otus.jsonl.N.
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { toJsonLine, type OutputRecord } from '../../../core/record.ts';
import type { PluginConfig, PluginContext, Reporter, ReporterStats } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';

const configSchema = z.strictObject({
  path: z.string().min(1),
  /** Rotate when the file would exceed this many megabytes; 0 = never. */
  max_size_mb: z.number().min(0).default(0),
  /** Rotated files kept beside the current one. */
  max_backups: z.number().int().min(0).default(5),
});

export class FileReporter implements Reporter {
  private cfg!: z.output<typeof configSchema>;
  private task = '';
  private agent = '';
  private fh: FileHandle | null = null;
  private size = 0;
  private reported = 0;
  private errorDrops = 0;
  rotations = 0;

  init(config: PluginConfig, ctx: PluginContext): void {
    this.cfg = parsePluginConfig(configSchema, config, 'reporter file');
    this.task = ctx.taskId;
    this.agent = ctx.agent;
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.cfg.path), { recursive: true });
    await this.openFile();
  }

  private async openFile(): Promise<void> {
    this.fh = await open(this.cfg.path, 'a');
    this.size = (await stat(this.cfg.path)).size;
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
    const p = this.cfg.path;
    const n = this.cfg.max_backups;
    if (n === 0) await rm(p, { force: true });
    else {
      await rm(`${p}.${n}`, { force: true });
      for (let i = n - 1; i >= 1; i--) await rename(`${p}.${i}`, `${p}.${i + 1}`).catch(() => {});
      await rename(p, `${p}.1`);
    }
    this.rotations++;
    await this.openFile();
  }

  async report(batch: readonly OutputRecord[]): Promise<void> {
    let text = '';
    for (const r of batch) text += toJsonLine(r, this.task, this.agent) + '\n';
    await this.reportLines(Buffer.from(text), batch.length);
  }

  /** `count` records already written as JSON lines (by the pipeline workers), UTF-8. */
  async reportLines(lines: Uint8Array, count: number): Promise<void> {
    const bytes = lines.byteLength;
    try {
      const limit = this.cfg.max_size_mb * 1024 * 1024;
      if (limit > 0 && this.size > 0 && this.size + bytes > limit) await this.rotate();
      // A write may take part of the bytes (a full disk, a signal): the rest goes next.
      for (let off = 0; off < bytes; ) off += (await this.fh!.write(lines, off, bytes - off)).bytesWritten;
      this.size += bytes;
      this.reported += count;
    } catch {
      this.errorDrops += count;
    }
  }

  async stop(): Promise<void> {
    await this.fh?.sync().catch(() => {});
    await this.fh?.close();
    this.fh = null;
  }

  stats(): ReporterStats {
    return { reported: this.reported, timeoutDrops: 0, errorDrops: this.errorDrops };
  }
}

registerPlugin('reporter', 'file', () => new FileReporter());
