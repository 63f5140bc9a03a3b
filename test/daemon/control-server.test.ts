// The JSON-RPC control socket on its own: protocol errors, hostile clients,
// concurrency, the socket file's permissions, and the CLI-side client.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/core/errors.ts';
import { callDaemon, DaemonUnreachableError, RpcCallError } from '../../src/control/uds-client.ts';
import { ControlServer } from '../../src/control/uds-server.ts';
import { TaskError } from '../../src/task/task-errors.ts';
import { call, connectAsNobody, exchange } from './rpc-client.ts';

let dir: string;
let path: string;
let server: ControlServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otus-uds-'));
  chmodSync(dir, 0o755); // so that only the socket's own mode keeps other users out
  path = join(dir, 'run', 'otus.sock');
  server = new ControlServer({
    path,
    log: () => {},
    maxRequestBytes: 64 * 1024,
    idleTimeoutMs: 400,
    methods: {
      echo: (p) => p,
      slow: async (p) => {
        await new Promise((r) => setTimeout(r, 700)); // longer than the idle timeout: a slow method is not a stalled client
        return p;
      },
      bad_field: () => {
        throw new ConfigError('task: capture.file: expected string', 'capture.file');
      },
      missing: () => {
        throw new TaskError('no task "x"', 'TASK_NOT_FOUND');
      },
      busy: () => {
        throw new TaskError('one at a time', 'TASK_LIMIT');
      },
      crash: () => {
        throw new Error('kaboom');
      },
    },
  });
  await server.listen();
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('control socket', () => {
  it('creates its directory and a 0600 socket file', () => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  it('answers requests, batches, and stays silent for notifications', async () => {
    assert.deepEqual(await call(path, 'echo', { a: 1 }, 7), { jsonrpc: '2.0', id: 7, result: { a: 1 } });
    const r = await exchange(
      path,
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] },
        { jsonrpc: '2.0', method: 'echo', params: [2] },
        { jsonrpc: '2.0', id: 'b', method: 'nope' },
      ]) + '\n',
      { expect: 1 },
    );
    const batch = r.lines[0] as { id: unknown; error?: { code: number } }[];
    assert.equal(batch.length, 2);
    assert.deepEqual(batch[0], { jsonrpc: '2.0', id: 1, result: [1] });
    assert.equal(batch[1]!.error?.code, -32601);
    // Several requests on one connection are answered in order.
    const two = await exchange(path, '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}\n{"jsonrpc":"2.0","id":2,"method":"echo","params":[2]}\n', { expect: 2 });
    assert.deepEqual(two.lines.map((l) => (l as { id: number }).id), [1, 2]);
  });

  it('maps malformed input to JSON-RPC errors', async () => {
    const codeOf = async (line: string) => ((await exchange(path, line + '\n', { expect: 1 })).lines[0] as { error: { code: number } }).error.code;
    assert.equal(await codeOf('{"jsonrpc":"2.0","id":1,"method":'), -32700);
    assert.equal(await codeOf('[]'), -32600);
    assert.equal(await codeOf('42'), -32600);
    assert.equal(await codeOf('{"jsonrpc":"1.0","id":1,"method":"echo"}'), -32600);
    assert.equal(await codeOf('{"jsonrpc":"2.0","id":1,"method":"echo","params":"x"}'), -32600);
    assert.equal(await codeOf('{"jsonrpc":"2.0","id":{},"method":"echo"}'), -32600);
    assert.equal(await codeOf('{"jsonrpc":"2.0","id":1,"method":"toString"}'), -32601);
    const inval = (await call(path, 'bad_field')).error!;
    assert.equal(inval.code, -32602);
    assert.match(inval.message, /capture\.file/);
    assert.deepEqual(inval.data, { field: 'capture.file' });
    assert.equal((await call(path, 'missing')).error!.code, -32001);
    assert.equal((await call(path, 'busy')).error!.code, -32003);
    const internal = (await call(path, 'crash')).error!;
    assert.equal(internal.code, -32603);
    assert.match(internal.message, /kaboom/);
  });

  it('closes a connection whose request is too large, with an error', async () => {
    const huge = '{"jsonrpc":"2.0","id":1,"method":"echo","params":["' + 'x'.repeat(3 * 1024 * 1024) + '"]}\n';
    const r = await exchange(path, huge, { ms: 5000 });
    assert.equal(r.closed, true);
    const e = r.lines[0] as { error: { code: number; message: string } };
    assert.equal(e.error.code, -32600);
    assert.match(e.error.message, /larger than 65536 bytes/);
    assert.ok((await call(path, 'echo', [1])).result, 'the server still serves');
  });

  it('times out a stalled client without blocking the others, but not a slow method', async () => {
    const stalled = exchange(path, '{"jsonrpc":"2.0","id":1,', { ms: 5000 });
    const silent = exchange(path, null, { ms: 5000 });
    const t0 = Date.now();
    assert.deepEqual((await call(path, 'echo', ['meanwhile'])).result, ['meanwhile']);
    assert.ok(Date.now() - t0 < 300, 'another client is answered at once');
    const s = await stalled;
    assert.equal(s.closed, true);
    assert.equal((s.lines[0] as { error: { code: number } }).error.code, -32600);
    assert.equal((await silent).closed, true);
    assert.deepEqual((await call(path, 'slow', [1])).result, [1]);
  });

  it('serves many concurrent clients', async () => {
    const n = 200;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => call(path, 'echo', [i], i)));
    assert.deepEqual(
      rs.map((r) => (r.result as number[])[0]),
      Array.from({ length: n }, (_, i) => i),
    );
  });

  it('keeps users other than root out', { skip: process.getuid?.() !== 0 && 'needs root to switch users' }, (t) => {
    const denied = connectAsNobody(path);
    if (denied === null) return t.skip('neither runuser nor setpriv can run a command as nobody here');
    assert.equal(denied, 'denied');
    chmodSync(path, 0o666); // the control: with the mode opened, the same user gets in
    try {
      assert.equal(connectAsNobody(path), 'connected');
    } finally {
      chmodSync(path, 0o600);
    }
  });
});

describe('socket file at start', () => {
  it('replaces a stale socket and refuses a live one or a foreign file', async () => {
    const stalePath = join(dir, 'stale.sock');
    const s = net.createServer().listen(stalePath);
    await new Promise((r) => s.once('listening', r));
    const rival = new ControlServer({ path: stalePath, log: () => {}, methods: {} });
    await assert.rejects(rival.listen(), /another daemon is listening/);
    await new Promise<void>((r) => s.close(() => r()));
    // A crashed daemon leaves its socket file behind: a child binds it and exits without closing.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.exit(0))`]);
    assert.ok(statSync(stalePath).isSocket(), 'a dead socket file is there');
    const fresh = new ControlServer({ path: stalePath, log: () => {}, methods: { echo: (p) => p } });
    await fresh.listen();
    assert.deepEqual((await call(stalePath, 'echo', [1])).result, [1]);
    await fresh.close();

    const foreign = join(dir, 'plain-file');
    writeFileSync(foreign, 'not a socket');
    await assert.rejects(new ControlServer({ path: foreign, log: () => {}, methods: {} }).listen(), /not a socket/);
  });
});

describe('CLI client', () => {
  it('returns results, raises RPC errors, and says clearly when the daemon is not there', async () => {
    assert.deepEqual(await callDaemon(path, 'echo', { x: 1 }), { x: 1 });
    await assert.rejects(callDaemon(path, 'missing'), (e: unknown) => e instanceof RpcCallError && e.rpc.code === -32001);
    await assert.rejects(callDaemon(join(dir, 'absent.sock'), 'echo'), (e: unknown) => e instanceof DaemonUnreachableError && /not running/.test(e.message));
  });
});
