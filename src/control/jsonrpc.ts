// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) as the local control
// channel speaks it (ADR-020): message shapes, error codes, and the checks a
// request must pass before any method sees it.

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;

/** Application errors: -32000 and below, one per kind of refusal. */
export const APP_ERROR = -32000;
export const TASK_NOT_FOUND = -32001;
export const TASK_EXISTS = -32002;
export const TASK_LIMIT = -32003;
export const TASK_START_FAILED = -32004;
export const SHUTTING_DOWN = -32005;
export const CONFIG_INVALID = -32006;

export type RpcId = string | number | null;

export interface RpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
  /** Absent for a notification: no response is sent. */
  id?: RpcId;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RpcId; result: unknown }
  | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject };

/** Thrown by a method to answer with a specific JSON-RPC error. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toObject(): RpcErrorObject {
    return { code: this.code, message: this.message, ...(this.data !== undefined ? { data: this.data } : {}) };
  }
}

export function errorResponse(id: RpcId, code: number, message: string, data?: unknown): RpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined ? { data } : {}) } };
}

function isValidId(v: unknown): v is RpcId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

export type Checked = { ok: true; req: RpcRequest } | { ok: false; response: RpcResponse };

/** Checks one request object: the request, or the error response the caller must send. */
export function checkRequest(v: unknown): Checked {
  const bad = (id: RpcId, message: string): Checked => ({ ok: false, response: errorResponse(id, INVALID_REQUEST, `invalid request: ${message}`) });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(null, 'expected a JSON-RPC 2.0 request object');
  const o = v as Record<string, unknown>;
  if ('id' in o && !isValidId(o['id'])) return bad(null, '"id" must be a string, a number or null');
  const id = (o['id'] as RpcId | undefined) ?? null;
  if (o['jsonrpc'] !== '2.0') return bad(id, '"jsonrpc" must be "2.0"');
  if (typeof o['method'] !== 'string' || o['method'] === '') return bad(id, '"method" must be a non-empty string');
  const params = o['params'];
  if (params !== undefined && (typeof params !== 'object' || params === null)) return bad(id, '"params" must be an object or an array');
  const req: RpcRequest = { jsonrpc: '2.0', method: o['method'], ...(params !== undefined ? { params } : {}), ...('id' in o ? { id } : {}) };
  return { ok: true, req };
}
