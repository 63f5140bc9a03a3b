// Configuration of the pcap capturer. The task's `capture.file` (and
// `capture.bpf_filter`, if given) arrive merged into this map
// (src/task/capture-config.ts), so errors name `capture.config.*`.
import { z } from 'zod';
import { parsePluginConfig } from '../../plugin-config.ts';

export const pcapConfigSchema = z.strictObject({
  /** The capture file: pcap or pcapng, optionally gzip- or zstd-compressed. */
  file: z
    .string({
      error: (iss) => (iss.input === undefined ? 'required: the capture file to read (capture.file of the task)' : 'must be a file path (a string)'),
    })
    .min(1, 'must not be empty'),
  /**
   * Refused rather than ignored: the file reader has no BPF engine, and a
   * filter silently not applied would report traffic the operator excluded.
   */
  bpf_filter: z
    .string()
    .refine((s) => s.trim() === '', 'BPF filters are not supported when reading a file; filter it first (tcpdump -r in -w out "filter")')
    .optional(),
});

export type PcapConfig = z.output<typeof pcapConfigSchema>;

export function parsePcapConfig(config: unknown): PcapConfig {
  return parsePluginConfig(pcapConfigSchema, config, 'capturer pcap', 'capture.config');
}
