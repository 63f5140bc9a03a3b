// log.format: text — the same records as the JSON output, laid out for a
// person reading a terminal or a file: time, level, message, key=value pairs.

const SKIP = new Set(['time', 'level', 'msg', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line to one text line; a line that is not JSON passes through. */
export function jsonLineToText(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const level = String(o['level'] ?? 'info').toUpperCase().padEnd(5);
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  return `${String(o['time'] ?? '')} ${level} ${String(o['msg'] ?? '')}${fields ? ' ' + fields : ''}\n`;
}
