// Registers the http parser (HTTP/1.1 over reassembled TCP streams).
export { DEFAULT_HTTP_PORTS, httpConfigSchema, HttpParser, type HttpConfig } from './http-parser.ts';
export { HTTP_COUNTERS, HttpPayload, HttpStream, isHttpStartLine } from './http-stream.ts';
