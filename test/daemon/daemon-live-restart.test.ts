// kill -9 of the real daemon during a live capture (ADR-030): the daemon runs
// inside a network namespace (ip netns exec) with an afpacket task on one end
// of a veth pair, while tcpreplay loops the sample capture into the other end
// without pause. The task cannot end by itself, so what the next start shows
// (restart_count 1, the counters moving again in a Prometheus scrape, records
// reaching the reporter again) can only come from the resumption.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { netnsSkipReason, withVethPair } from '../helpers/netns.ts';
import { daemonEnv, SAMPLE, sample, setupDaemon, startDaemon, taskStatus, waitFor, type DaemonHandle } from './daemon-process.ts';
import { call } from './rpc-client.ts';

const execFileP = promisify(execFile);
const skip = netnsSkipReason('tcpreplay');

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'otus-live-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** The daemon's metrics listen on the loopback of its namespace: scrape from in there. */
async function scrapeIn(ns: string, url: string): Promise<string> {
  const js = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
  const { stdout } = await execFileP('ip', ['netns', 'exec', ns, process.execPath, '-e', js], { env: daemonEnv(), encoding: 'utf8', maxBuffer: 16 << 20 });
  return stdout;
}

const lineCount = (file: string): number => {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
};

describe('live task resumption', { skip }, () => {
  it('resumes an afpacket capture after kill -9: restart_count 1, and a scrape shows it counting again', async () => {
    await withVethPair(async (pair) => {
      const s = await setupDaemon(join(root, 'kill9'));
      const prefix = ['ip', 'netns', 'exec', pair.nsB];
      const url = `http://127.0.0.1:${s.port}/metrics`;
      const out = join(s.dir, 'records.jsonl');
      const captured = (body: string) => sample(body, 'otus_packets_captured_total{task="live-1"}') ?? 0;
      // Endless traffic into the capture end: ~200 packets a second until the test kills it.
      const traffic = spawn('ip', ['netns', 'exec', pair.nsA, 'tcpreplay', '-q', '-i', pair.ifA, '--loop=0', '--pps=200', SAMPLE], { stdio: 'ignore' });
      const trafficEnded = new Promise((r) => traffic.once('exit', r));
      let d: DaemonHandle | null = null;
      try {
        d = await startDaemon(s, { prefix });
        const created = await call(s.socket, 'task_create', {
          id: 'live-1',
          workers: 1,
          capture: { name: 'afpacket', interface: pair.ifB },
          reporters: [{ name: 'file', config: { path: out } }],
          unmatched_policy: 'forward',
        });
        assert.ok(created.result, JSON.stringify(created.error));
        await waitFor('live packets in the metrics', async () => captured(await scrapeIn(pair.nsB, url)) > 0);
        assert.equal((await taskStatus(s.socket, 'live-1')).restart_count, 0);

        d.proc.kill('SIGKILL');
        assert.deepEqual(await d.exited, { code: null, signal: 'SIGKILL' });
        d = null;
        const rec = JSON.parse(readFileSync(join(s.dataDir, 'tasks', 'live-1.json'), 'utf8')) as { state: string; restart_count: number };
        assert.deepEqual([rec.state, rec.restart_count], ['running', 0], 'a killed daemon leaves the record saying running');
        // A write cut short by the kill may leave half a line: cut it off, so that every line after this is the next process's.
        const text = readFileSync(out, 'utf8');
        truncateSync(out, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
        const linesAtKill = lineCount(out);
        assert.ok(linesAtKill > 0, 'records were reported before the kill');

        d = await startDaemon(s, { prefix });
        const st = await waitFor('the task running again', async () => {
          const x = await taskStatus(s.socket, 'live-1');
          return x.state === 'running' ? x : null;
        });
        assert.equal(st.restart_count, 1);
        assert.equal(JSON.parse(readFileSync(join(s.dataDir, 'tasks', 'live-1.json'), 'utf8')).restart_count, 1);

        // Counters start again from zero in the new process: seeing them rise is seeing the capture run.
        const first = await waitFor('the resumed task counting', async () => {
          const m = await scrapeIn(pair.nsB, url);
          return captured(m) > 0 ? m : null;
        });
        assert.equal(sample(first, 'otus_task_restarts_total{task="live-1"}'), 1);
        assert.equal(sample(first, 'otus_task_state{task="live-1",state="running"}'), 1);
        const c1 = captured(first);
        await waitFor('the count rising between two scrapes', async () => captured(await scrapeIn(pair.nsB, url)) > c1);
        await waitFor('records reaching the reporter again', async () => lineCount(out) > linesAtKill);

        // SIGTERM: the task stops first (capture, pipelines, sender, reporters flushed), then the socket and the pid file go.
        const daemon = d;
        d = null;
        assert.deepEqual(await daemon.stop(), { code: 0, signal: null });
        const msgs = daemon.logLines().map((l) => String(l['msg']));
        const order = ['daemon stopping', 'task stopped for shutdown; it resumes at the next start', 'daemon stopped'].map((m) => msgs.indexOf(m));
        assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), `stop order: ${msgs.join(' | ')}`);
        const last = daemon.logLines().find((l) => String(l['msg']).startsWith('task stopped for shutdown'))!;
        const reported = (last['reported'] as Record<string, number>)['file']!;
        assert.ok(reported > 0);
        assert.equal(lineCount(out) - linesAtKill, reported, 'every record the reporter counted is in the file: flushed before exit');
        assert.ok(!existsSync(s.socket) && !existsSync(s.pidFile));
        const rec2 = JSON.parse(readFileSync(join(s.dataDir, 'tasks', 'live-1.json'), 'utf8')) as { state: string };
        assert.equal(rec2.state, 'running', 'a shutdown is not a delete: the next start resumes the task (docs/daemon.md)');
      } finally {
        await d?.stop();
        traffic.kill('SIGTERM');
        await trafficEnded;
      }
    });
  });
});
