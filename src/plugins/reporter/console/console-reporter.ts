// Reporter "console": one line per record on standard output, JSON (the
// public record format) or readable text.
import { z } from 'zod';
import { toJsonLine, toTextLine, type OutputRecord } from '../../../core/record.ts';
import type { PluginConfig, PluginContext, Reporter, ReporterStats } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { writeText } from '../stream-writer.ts';

const configSchema = z.strictObject({
  format: z.enum(['json', 'text']).default('text'),
});

export class ConsoleReporter implements Reporter {
  private format: 'json' | 'text' = 'text';
  private task = '';
  private agent = '';
  private reported = 0;
  private errorDrops = 0;
  private closed = false;
  private readonly out = process.stdout;

  init(config: PluginConfig, ctx: PluginContext): void {
    this.format = parsePluginConfig(configSchema, config, 'reporter console').format;
    this.task = ctx.taskId;
    this.agent = ctx.agent;
    // A closed pipe (`otus run | head`) ends console output quietly.
    this.out.on('error', () => {
      this.closed = true;
    });
  }

  async start(): Promise<void> {}

  async report(batch: readonly OutputRecord[]): Promise<void> {
    if (this.closed) {
      this.errorDrops += batch.length;
      return;
    }
    let text = '';
    for (const r of batch) text += (this.format === 'json' ? toJsonLine(r, this.task, this.agent) : toTextLine(r)) + '\n';
    await this.reportLines(Buffer.from(text), batch.length);
  }

  /** `count` records already written as lines of this reporter's format (by the pipeline workers), UTF-8. */
  async reportLines(lines: Uint8Array, count: number): Promise<void> {
    if (this.closed) {
      this.errorDrops += count;
      return;
    }
    try {
      await writeText(this.out, lines);
      this.reported += count;
    } catch {
      this.closed = true;
      this.errorDrops += count;
    }
  }

  async stop(): Promise<void> {}

  stats(): ReporterStats {
    return { reported: this.reported, timeoutDrops: 0, errorDrops: this.errorDrops };
  }
}

registerPlugin('reporter', 'console', () => new ConsoleReporter());
