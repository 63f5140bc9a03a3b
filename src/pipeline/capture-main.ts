// Entry point of a task's capture thread (dispatch mode): runs the capturer
// and hands every frame to the Dispatcher. Off the main thread, so that the
// daemon's control plane never sits on the per-packet path.
import { parentPort, workerData } from 'node:worker_threads';
import '../plugins/index.ts';
import { lookupPlugin } from '../plugin/registry.ts';
import { ControlBlock } from './control-block.ts';
import { Dispatcher } from './dispatcher.ts';
import { threadLogger, type CaptureCommand, type CaptureMessage, type CaptureThreadData } from './messages.ts';
import { captureConfigOf } from '../task/capture-config.ts';
import { buildPlugins } from '../task/build-plugins.ts';

const data = workerData as CaptureThreadData;
const port = parentPort!;
const post = (m: CaptureMessage) => port.postMessage(m);
// The capturer's warnings (a BPF filter the kernel could not take, say) reach the task's log.
const log = threadLogger(post);

/** Resolves on the main thread's 'start' (see CaptureCommand); the listener goes then, so that it keeps no thread alive. */
const started = new Promise<void>((resolve) => {
  const onMessage = (m: CaptureCommand) => {
    if (m.type !== 'start') return;
    port.off('message', onMessage);
    resolve();
  };
  port.on('message', onMessage);
});

async function main(): Promise<void> {
  const control = new ControlBlock(data.control);
  const capturer = lookupPlugin('capturer', data.task.capture.name)();
  // The task's signalling parsers, built here only to recognise the frames
  // that must be handled before later ones (see Dispatcher.barrierFor).
  const ctx = { taskId: data.task.id, workerIndex: -1, agent: data.agent, log };
  // Their init logs nothing here: each worker builds (and logs) the same parsers.
  const quiet = { ...ctx, log: () => {} };
  const signalling =
    data.rings.length > 1 ? (await buildPlugins('parser', data.task.parsers, quiet)).filter((p) => p.registersFlows === true) : [];
  const dispatcher = new Dispatcher(data.rings, data.decoder, data.lossless, signalling, control);
  await started;
  const timer = setInterval(() => {
    if (control.stopping) void capturer.stop();
    dispatcher.notifyAll();
    post({ type: 'stats', stats: capturer.stats(), progress: capturer.progress(), channelDrops: dispatcher.channelDrops });
  }, 200);
  let error: { message: string; code?: string } | undefined;
  try {
    await capturer.init(captureConfigOf(data.task), ctx);
    // The source is open (file found, socket bound, filter compiled): the task has started.
    post({ type: 'ready' });
    await capturer.run(dispatcher);
  } catch (e) {
    const err = e as Error & { code?: string };
    error = { message: err.message, ...(err.code ? { code: err.code } : {}) };
  } finally {
    clearInterval(timer);
    dispatcher.close();
    await capturer.stop();
  }
  post({
    type: 'done',
    stats: capturer.stats(),
    progress: capturer.progress(),
    channelDrops: dispatcher.channelDrops,
    ...(error ? { error } : {}),
  });
}

void main();
