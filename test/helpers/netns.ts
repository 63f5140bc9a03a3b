// Throwaway network namespaces joined by a veth pair, for live-capture tests.
//
// Every namespace this module creates is removed again: by the caller's
// try/finally (withVethPair), by a process 'exit' handler, and on SIGINT /
// SIGTERM / SIGHUP. Deleting a namespace also destroys the veth end in it, and
// both ends are created directly inside their namespaces, so no interface ever
// appears in the host's namespace. Names carry the pid: parallel test files
// never collide, and namespaces left by a run that was killed with SIGKILL are
// recognised (their pid is gone) and removed the next time this module loads.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { promisify } from 'node:util';
import { CLONE_NEWNET, setns } from '../../src/native/libc.ts';

const execFileP = promisify(execFile);
const PREFIX = 'otus-t';
const live = new Set<string>();
let counter = 0;
let hooked = false;

export interface VethPair {
  /** Namespace of end A (the sender in most tests) and of end B. */
  nsA: string;
  nsB: string;
  ifA: string;
  ifB: string;
  ipA: string;
  ipB: string;
  macA: string;
  macB: string;
  /** Removes both namespaces (and with them the veth pair); safe to call twice. */
  remove(): void;
}

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsSkipReason(...tools: string[]): string | undefined {
  if (process.platform !== 'linux') return 'live capture tests need Linux';
  if (process.getuid?.() !== 0) return 'live capture tests need root (network namespaces, CAP_NET_RAW)';
  for (const t of ['ip', ...tools]) if (!which(t)) return `live capture tests need ${t}, which is not installed`;
  return undefined;
}

function removeNs(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
  live.delete(ns);
}

function removeAll(): void {
  for (const ns of [...live]) removeNs(ns);
}

function hookCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      removeAll();
      // Die of the same signal, as the default handler would have.
      process.kill(process.pid, sig);
    });
  }
  removeStale();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeStale(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) removeNs(name);
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function nsSysctl(ns: string, ...settings: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Two fresh namespaces joined by a veth pair, both ends up with addresses
 * 10.0.0.1/24 (A) and 10.0.0.2/24 (B) and fixed MACs. IPv6 is off in both,
 * so the link is silent (no router solicitations, DAD or MLD) until a test
 * sends something.
 */
export function createVethPair(): VethPair {
  hookCleanup();
  const n = counter++;
  const tag = `${process.pid.toString(36)}${n.toString(36)}`;
  const nsA = `${PREFIX}${process.pid}-${n}-a`;
  const nsB = `${PREFIX}${process.pid}-${n}-b`;
  const ifA = `ov${tag}a`.slice(0, 15);
  const ifB = `ov${tag}b`.slice(0, 15);
  const pair: VethPair = {
    nsA,
    nsB,
    ifA,
    ifB,
    ipA: '10.0.0.1',
    ipB: '10.0.0.2',
    macA: '02:00:00:00:00:0a',
    macB: '02:00:00:00:00:0b',
    remove: () => {
      removeNs(nsA);
      removeNs(nsB);
    },
  };
  try {
    for (const ns of [nsA, nsB]) {
      live.add(ns);
      ip('netns', 'add', ns);
      nsSysctl(ns, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', ifA, 'netns', nsA, 'address', pair.macA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB, 'address', pair.macB);
    ip('-n', nsA, 'addr', 'add', `${pair.ipA}/24`, 'dev', ifA);
    ip('-n', nsB, 'addr', 'add', `${pair.ipB}/24`, 'dev', ifB);
    ip('-n', nsA, 'link', 'set', ifA, 'up');
    ip('-n', nsB, 'link', 'set', ifB, 'up');
  } catch (e) {
    pair.remove();
    const err = e as Error & { stderr?: Buffer };
    throw new Error(`netns helper: cannot build the veth pair: ${err.stderr?.toString().trim() || err.message}`);
  }
  return pair;
}

/** Runs `fn` with a veth pair that is removed afterwards, whatever happens. */
export async function withVethPair<T>(fn: (p: VethPair) => Promise<T> | T): Promise<T> {
  const p = createVethPair();
  try {
    return await fn(p);
  } finally {
    p.remove();
  }
}

/**
 * Runs `fn` (synchronously) with the calling thread inside namespace `ns`.
 * Sockets keep the namespace they were created in, so a capturer initialised
 * here captures there after the thread has moved back. Only the calling
 * thread moves (setns on a network namespace is per thread).
 */
export function inNetns<T>(ns: string, fn: () => T): T {
  const path = `/run/netns/${ns}`;
  if (!existsSync(path)) throw new Error(`netns helper: no namespace ${ns}`);
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(path, 'r');
  try {
    setns(target, CLONE_NEWNET);
    try {
      return fn();
    } finally {
      setns(home, CLONE_NEWNET);
    }
  } finally {
    closeSync(target);
    closeSync(home);
  }
}

/** Runs a command inside namespace `ns` (ip netns exec), without blocking the event loop. */
export async function nsExec(ns: string, cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Synchronous ip(8) in namespace `ns`, e.g. nsIp(ns, 'link', 'set', 'eth0', 'down'). */
export function nsIp(ns: string, ...args: string[]): void {
  ip('-n', ns, ...args);
}
