// JSON text of strings, for payloads that write their JSON form directly
// (Payload.toJsonText). The same text as JSON.stringify, which stays the
// fallback for any string that needs an escape.

/** 1 for the characters below 128 that JSON.stringify escapes: controls, '"' and '\\'. */
const ESCAPE = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 1;
ESCAPE[0x22] = 1;
ESCAPE[0x5c] = 1;

/**
 * JSON.stringify(s): most protocol text needs no escape, and a scan plus two
 * concatenations cost less than the generic serialiser. Anything beyond
 * ASCII goes to JSON.stringify too (it escapes lone surrogates).
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ESCAPE[c] === 1) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** jsonString, or null for null. */
export function jsonStringOrNull(s: string | null): string {
  return s === null ? 'null' : jsonString(s);
}

/** A JSON array of strings. */
export function jsonStrings(list: readonly string[]): string {
  if (list.length === 0) return '[]';
  let out = '[' + jsonString(list[0]!);
  for (let i = 1; i < list.length; i++) out += ',' + jsonString(list[i]!);
  return out + ']';
}
