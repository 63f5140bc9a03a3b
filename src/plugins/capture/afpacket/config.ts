// Configuration of the afpacket capturer. The task's `capture.interface` and
// `capture.bpf_filter` arrive merged into this map (src/task/capture-config.ts).
import { z } from 'zod';

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Largest ring we map: views over it are indexed with 32-bit arithmetic. */
export const MAX_RING_BYTES = 2 ** 31;
/** TPACKET3_HDRLEN (68) plus our 4 reserved bytes, rounded up to TPACKET_ALIGNMENT. */
export const MIN_FRAME_SIZE = 80;

export const fanoutSchema = z.strictObject({
  /** Group id, shared by every socket of one task on one interface; unique per host network namespace. */
  group_id: z.number().int().min(0).max(65535),
  /** hash: by flow (keeps a flow on one socket); cpu: by receiving CPU; lb: round robin (breaks flow affinity). */
  mode: z.enum(['hash', 'cpu', 'lb']).default('hash'),
  /** Reassemble IP fragments before hashing, so that every fragment lands where its flow does. */
  defrag: z.boolean().default(true),
});

export const afpacketConfigSchema = z
  .strictObject({
    interface: z
      .string()
      .min(1)
      .max(15, 'interface names are at most 15 characters on Linux'),
    /** Bytes per ring block: a power of two, a multiple of the page size. */
    block_size: z
      .number()
      .int()
      .min(4096)
      .max(2 ** 30)
      .refine(isPowerOfTwo, 'must be a power of two (and a multiple of the page size)')
      .default(1 << 20),
    block_count: z.number().int().min(2).max(65536).default(64),
    /**
     * tp_frame_size of tpacket_req3. TPACKET_V3 packs variable-length frames
     * into blocks, so this only has to satisfy the kernel's checks (a multiple
     * of 16, room for the frame header, at most block_size); it bounds nothing.
     */
    frame_size: z.number().int().min(MIN_FRAME_SIZE).multipleOf(16, 'must be a multiple of 16 (TPACKET_ALIGNMENT)').default(2048),
    /** The kernel hands a partly filled block over after this long (0 lets the kernel choose from the link speed). */
    block_timeout_ms: z.number().int().min(0).max(60_000).default(10),
    snaplen: z.number().int().min(16).max(262144).default(262144),
    promiscuous: z.boolean().default(false),
    /** tcpdump syntax, compiled by libpcap for this interface and run by the kernel. */
    bpf_filter: z.string().optional(),
    fanout: fanoutSchema.optional(),
  })
  .refine((c) => c.frame_size <= c.block_size, { message: 'must not exceed block_size', path: ['frame_size'] })
  .refine((c) => c.block_size * c.block_count <= MAX_RING_BYTES, {
    message: `block_size x block_count must be at most ${MAX_RING_BYTES / 2 ** 20} MiB`,
    path: ['block_count'],
  });

export type AfPacketConfig = z.output<typeof afpacketConfigSchema>;
export type AfPacketConfigInput = z.input<typeof afpacketConfigSchema>;
