// Registers the rtcp parser; the compound-packet reader is exported for reuse.
export { RtcpParser, RtcpPayload, rtcpConfigSchema, RTCP_MIN_LEN, type RtcpConfig, type RtcpConfigInput } from './rtcp-parser.ts';
export * from './rtcp-packet.ts';
