// The daemon process's own figures for daemon_stats: memory, CPU, event loop.
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface ProcessStats {
  pid: number;
  uptime_sec: number;
  memory: { rss: number; heap_used: number; heap_total: number; external: number; array_buffers: number };
  cpu: { user_sec: number; system_sec: number; percent_since_last: number };
  event_loop_utilization: number;
  open_fds: number | null;
}

let last = { at: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() };

function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** CPU percent and loop utilisation are over the time since the previous call (100 = one core). */
export function processStats(): ProcessStats {
  const now = performance.now();
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const wallUs = (now - last.at) * 1000;
  const usedUs = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
  const loop = performance.eventLoopUtilization(elu, last.elu).utilization;
  last = { at: now, cpu, elu };
  const m = process.memoryUsage();
  return {
    pid: process.pid,
    uptime_sec: Math.round(process.uptime() * 1000) / 1000,
    memory: { rss: m.rss, heap_used: m.heapUsed, heap_total: m.heapTotal, external: m.external, array_buffers: m.arrayBuffers },
    cpu: {
      user_sec: cpu.user / 1e6,
      system_sec: cpu.system / 1e6,
      percent_since_last: wallUs > 0 ? Math.round((usedUs / wallUs) * 1000) / 10 : 0,
    },
    event_loop_utilization: Math.round(loop * 1000) / 1000,
    open_fds: openFds(),
  };
}
