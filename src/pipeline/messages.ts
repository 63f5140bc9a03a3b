// Messages between a task's threads and its main thread.
import type { DecoderConfig } from '../decoder/api.ts';
import type { OutputRecord, PayloadForms } from '../core/record.ts';
import type { TaskConfig } from '../task/task-schema.ts';
import type { FrameRingShared } from './frame-ring.ts';
import type { CaptureStats } from '../plugin/interfaces.ts';

export interface PipelineWorkerData {
  index: number;
  agent: string;
  task: TaskConfig;
  decoder: DecoderConfig;
  forms: PayloadForms;
  ring: FrameRingShared;
  control: SharedArrayBuffer;
  /** The task's SharedFlowRegistry memory (SharedFlowRegistry.attach). */
  flowRegistry: SharedArrayBuffer;
  /** Files: wait for the sender instead of dropping. */
  lossless: boolean;
  batchSize: number;
}

export interface PipelineSnapshot {
  index: number;
  counters: Record<string, number>;
  decodeErrors: Record<string, number>;
  decoder: Record<string, number>;
  parsed: Record<string, number>;
  parserStats: Record<string, Record<string, number>>;
  channelUsage: number;
}

export type WorkerMessage =
  | { type: 'ready'; index: number }
  | { type: 'records'; index: number; records: OutputRecord[] }
  | { type: 'stats'; snapshot: PipelineSnapshot }
  | { type: 'done'; snapshot: PipelineSnapshot }
  | { type: 'error'; message: string; code?: string };

export interface CaptureThreadData {
  task: TaskConfig;
  agent: string;
  decoder: DecoderConfig;
  rings: FrameRingShared[];
  control: SharedArrayBuffer;
  lossless: boolean;
}

export type CaptureMessage =
  | { type: 'stats'; stats: CaptureStats; progress: number | null; channelDrops: number }
  | { type: 'done'; stats: CaptureStats; progress: number | null; channelDrops: number; error?: { message: string; code?: string } };
