// Plugins that log from the task's threads, preloaded into every thread with
// `node --import` (worker threads inherit the option), for the test that a
// line logged by a capturer (capture thread) or a parser (pipeline worker)
// reaches the task's log with its fields.
import type { PluginConfig, PluginContext, Parser } from '../../src/plugin/interfaces.ts';
import { registerPlugin } from '../../src/plugin/registry.ts';
import { PcapCapturer } from '../../src/plugins/capture/pcap/capturer.ts';

class LoggingPcap extends PcapCapturer {
  override async init(config: PluginConfig, ctx: PluginContext): Promise<void> {
    await super.init(config, ctx);
    ctx.log('warn', 'test capturer opened its file', { file: config['file'] });
  }
}

class LoggingParser implements Parser {
  init(_config: PluginConfig, ctx: PluginContext): void {
    ctx.log('info', 'test parser ready', { answer: 42 });
  }
  canHandle(): boolean {
    return false;
  }
  handle(): null {
    return null;
  }
  stats(): Record<string, number> {
    return {};
  }
}

registerPlugin('capturer', 'test-logging-pcap', () => new LoggingPcap());
registerPlugin('parser', 'test-logging', () => new LoggingParser());
