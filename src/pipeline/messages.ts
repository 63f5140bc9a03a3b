// Messages between a task's threads and its main thread.
import type { MessagePort } from 'node:worker_threads';
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
  /** Dispatch mode: the ring the capture thread fills; null in binding mode. */
  ring: FrameRingShared | null;
  /** Binding mode: the capturer this worker owns (its plugin name and config, fan-out group included). */
  capture: { name: string; config: Record<string, unknown> } | null;
  control: SharedArrayBuffer;
  /** The task's SharedFlowRegistry memory (SharedFlowRegistry.attach). */
  flowRegistry: SharedArrayBuffer;
  /** Files: wait for the sender instead of dropping. */
  lossless: boolean;
  batchSize: number;
  /**
   * Lines-only tasks: the buffers of the worker's line batches come back on
   * this port once the reporters are done with them (an ArrayBuffer per
   * message), so that a worker writes its batches into the same few buffers
   * instead of a new one per batch.
   */
  spareBuffers?: MessagePort;
}

export interface PipelineSnapshot {
  index: number;
  counters: Record<string, number>;
  decodeErrors: Record<string, number>;
  decoder: Record<string, number>;
  parsed: Record<string, number>;
  parserStats: Record<string, Record<string, number>>;
  channelUsage: number;
  /** Binding mode: this worker's capturer counters (kernel drops and freezes included). */
  capture?: CaptureStats;
}

/** A plugin's log line from a task thread, logged by the main thread with the task's fields. */
export interface ThreadLog {
  type: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

/** A PluginContext log for a task thread: each line goes to the main thread as a ThreadLog. */
export function threadLogger(post: (m: ThreadLog) => void): (level: ThreadLog['level'], msg: string, fields?: Record<string, unknown>) => void {
  return (level, msg, fields) => post({ type: 'log', level, msg, ...(fields ? { fields } : {}) });
}

export type WorkerMessage =
  | ThreadLog
  | { type: 'ready'; index: number }
  | { type: 'records'; index: number; records: OutputRecord[] }
  /** A batch already written as lines (PayloadForms.linesOnly). */
  | { type: 'lines'; index: number; bytes: Uint8Array; count: number }
  | { type: 'stats'; snapshot: PipelineSnapshot }
  /** `captureError`: binding mode, the worker's capturer failed (e.g. the interface went down). */
  | { type: 'done'; snapshot: PipelineSnapshot; captureError?: { message: string; code?: string } }
  | { type: 'error'; message: string; code?: string };

/** Main thread to a binding-mode worker: every capturer is open, run now; or: the task is aborted, close yours. */
export type WorkerCommand = { type: 'run' } | { type: 'close' };

export interface CaptureThreadData {
  task: TaskConfig;
  agent: string;
  decoder: DecoderConfig;
  rings: FrameRingShared[];
  control: SharedArrayBuffer;
  lossless: boolean;
}

/**
 * Main thread to the capture thread: every pipeline worker is ready, open the
 * source and run. The thread is started with the workers, so that loading its
 * modules overlaps theirs, and waits for this before it touches the source.
 */
export type CaptureCommand = { type: 'start' };

export type CaptureMessage =
  | ThreadLog
  | { type: 'ready' }
  | { type: 'stats'; stats: CaptureStats; progress: number | null; channelDrops: number }
  | { type: 'done'; stats: CaptureStats; progress: number | null; channelDrops: number; error?: { message: string; code?: string } };
