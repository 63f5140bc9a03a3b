// The messages of the Kafka command channel (DESIGN section 7, ADR-015/026/029):
// a command {version, target, command, timestamp, request_id, payload} on
// otus-commands, and a response {version, source, command, request_id,
// timestamp, result | error} on otus-responses.
import { z } from 'zod';
import { PARSE_ERROR, INVALID_REQUEST, type RpcErrorObject } from '../control/jsonrpc.ts';

export const PROTOCOL_VERSION = 'v1';

export const commandSchema = z.strictObject({
  version: z.string().default(PROTOCOL_VERSION),
  /** A hostname, or "*" for every node. */
  target: z.string().min(1),
  command: z.string().min(1),
  /** RFC 3339 time the command was issued; commands older than command_ttl are skipped. */
  timestamp: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'an RFC 3339 timestamp'),
  /** Correlates the response; empty = no response wanted. */
  request_id: z.string().default(''),
  /** The method's params. */
  payload: z.unknown().optional(),
});

export type KafkaCommand = z.output<typeof commandSchema>;

export interface KafkaResponse {
  version: string;
  source: string;
  command: string;
  request_id: string;
  timestamp: string;
  result?: unknown;
  error?: RpcErrorObject;
}

export type Parsed =
  | { ok: true; cmd: KafkaCommand }
  /** What could be read of a bad message, to address the error response. */
  | { ok: false; error: RpcErrorObject; request_id: string; target: string | null; command: string };

/** A string field read from text that is not valid JSON (a truncated message still names its request). */
function fieldOf(text: string, name: string): string | null {
  const m = new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text);
  return m ? m[1]! : null;
}

export function parseCommand(value: Buffer | null): Parsed {
  const text = value?.toString('utf8') ?? '';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      error: { code: PARSE_ERROR, message: `malformed command: not valid JSON (${(e as Error).message})` },
      request_id: fieldOf(text, 'request_id') ?? '',
      target: fieldOf(text, 'target'),
      command: fieldOf(text, 'command') ?? '',
    };
  }
  const r = commandSchema.safeParse(doc);
  if (r.success) return { ok: true, cmd: r.data };
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : null);
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return {
    ok: false,
    error: { code: INVALID_REQUEST, message: `malformed command: ${issues}`, data: { field: r.error.issues[0]?.path.join('.') ?? '' } },
    request_id: str('request_id') ?? '',
    target: str('target'),
    command: str('command') ?? '',
  };
}

/** Whether a command is for this node. */
export function isForMe(target: string | null, hostname: string): boolean {
  return target === null || target === '*' || target === hostname;
}
