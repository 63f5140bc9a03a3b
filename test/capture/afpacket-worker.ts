// A pipeline worker's share of binding mode, for afpacket-live.test.ts: runs
// one afpacket capturer in this worker thread (in the test's namespace, with
// the fan-out group it is given) and reports the flows it saw when told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { AfPacketCapturer } from '../../src/plugins/capture/afpacket/index.ts';
import type { RawPacket } from '../../src/core/packet.ts';
import { inNetns } from '../helpers/netns.ts';

const { ns, iface, groupId, index } = workerData as { ns: string; iface: string; groupId: number; index: number };
const port = parentPort!;
const cap = new AfPacketCapturer();
const ports: number[] = [];
try {
  inNetns(ns, () =>
    cap.init(
      { interface: iface, fanout: { group_id: groupId, mode: 'hash' } },
      { taskId: 't', workerIndex: index, agent: 'test', log: () => {} },
    ),
  );
} catch (e) {
  port.postMessage({ type: 'error', message: (e as Error).message });
  process.exit(0);
}
const done = cap.run({
  onPacket(p: RawPacket): boolean {
    ports.push((p.data[p.offset + 34]! << 8) | p.data[p.offset + 35]!);
    return true;
  },
  async ready() {},
});
port.on('message', async (m: string) => {
  if (m !== 'stop') return;
  await cap.stop();
  await done.catch(() => {});
  port.postMessage({ type: 'done', ports, stats: cap.stats() });
  port.close();
});
port.postMessage({ type: 'ready' });
