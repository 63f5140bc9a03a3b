// The real daemon's control socket under malformed and hostile input: every
// bad request gets a JSON-RPC error or a closed connection, and other clients
// are served meanwhile.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setupDaemon, startDaemon, type DaemonHandle } from './daemon-process.ts';
import { call, connectAsNobody, exchange } from './rpc-client.ts';

let root: string;
let d: DaemonHandle;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'otus-ctl-'));
  chmodSync(root, 0o755); // so that only the socket's own mode keeps other users out
  d = await startDaemon(await setupDaemon(root), { args: ['--control-timeout', '1'] });
});
after(async () => {
  await d?.stop();
  rmSync(root, { recursive: true, force: true });
});

const errorOf = async (line: string) => ((await exchange(d.socket, line + '\n', { expect: 1 })).lines[0] as { error: { code: number; message: string; data?: unknown } }).error;

describe('control socket of a running daemon', () => {
  it('answers malformed requests with JSON-RPC errors', async () => {
    assert.equal((await errorOf('{"jsonrpc":"2.0","id":1,"method":"task_list"')).code, -32700);
    assert.equal((await errorOf('{"id":1,"method":"task_list"}')).code, -32600);
    assert.equal((await errorOf('{"jsonrpc":"2.0","id":1,"method":"task_explode"}')).code, -32601);
    const noId = await errorOf('{"jsonrpc":"2.0","id":1,"method":"task_status","params":{}}');
    assert.equal(noId.code, -32602);
    assert.match(noId.message, /id/);
    const arr = await errorOf('{"jsonrpc":"2.0","id":1,"method":"task_create","params":[1]}');
    assert.equal(arr.code, -32602);
    const badTask = await errorOf(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'task_create', params: { id: 'x', capture: { name: 'pcap', file: 3 }, reporters: [{ name: 'file' }] } }));
    assert.equal(badTask.code, -32602);
    assert.match(badTask.message, /capture\.file/);
    assert.deepEqual(badTask.data, { field: 'capture.file' });
    const missing = await errorOf('{"jsonrpc":"2.0","id":1,"method":"task_delete","params":{"id":"ghost"}}');
    assert.equal(missing.code, -32001);
  });

  it('closes the connection of a multi-megabyte request and keeps serving', async () => {
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'task_create', params: { id: 'x', pad: 'z'.repeat(4 << 20) } }) + '\n';
    const r = await exchange(d.socket, huge, { ms: 10_000 });
    assert.equal(r.closed, true);
    const e = (r.lines[0] as { error: { code: number; message: string } } | undefined)?.error;
    assert.equal(e?.code, -32600);
    assert.match(e!.message, /larger than 1048576 bytes/);
    assert.ok((await call(d.socket, 'task_list')).result);
  });

  it('times out a client that connects and stalls, while others are served', async () => {
    const stalls = [exchange(d.socket, null, { ms: 8000 }), exchange(d.socket, '{"jsonrpc":"2.0",', { ms: 8000 })];
    let stallsOver = false;
    void Promise.all(stalls).then(() => (stallsOver = true));
    for (let i = 0; i < 5; i++) assert.ok((await call(d.socket, 'daemon_status')).result);
    assert.equal(stallsOver, false, 'the others were served while the stalled connections were still open');
    const [silent, partial] = await Promise.all(stalls);
    // Closed by the daemon (its one-second --control-timeout), not by our own 8 s give-up.
    assert.equal(silent!.closed, true);
    assert.equal(partial!.closed, true);
    assert.equal((partial!.lines[0] as { error: { code: number } } | undefined)?.error.code, -32600, 'a half-sent request is told why');
  });

  it('serves many clients at once', async () => {
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => call(d.socket, 'task_list', undefined, i)));
    assert.ok(rs.every((r) => r.result));
  });

  it('is a 0600 socket that other users cannot connect to', async (t) => {
    assert.equal(statSync(d.socket).mode & 0o777, 0o600);
    if (process.getuid?.() !== 0) return t.skip('needs root to try as another user');
    const r = connectAsNobody(d.socket);
    if (r === null) return t.skip('neither runuser nor setpriv can run a command as nobody here');
    assert.equal(r, 'denied');
    // The converse, so that "denied" cannot come from anything but the socket's mode.
    chmodSync(d.socket, 0o666);
    try {
      assert.equal(connectAsNobody(d.socket), 'connected');
    } finally {
      chmodSync(d.socket, 0o600);
    }
  });

  it('shuts down on daemon_shutdown', async () => {
    const r = await call(d.socket, 'daemon_shutdown');
    assert.deepEqual(r.result, { stopping: true });
    assert.deepEqual(await d.exited, { code: 0, signal: null });
  });
});
