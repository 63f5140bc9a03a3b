// Registers the sip parser.
export {
  DEFAULT_SIP_PORTS,
  looksLikeSip,
  sipConfigSchema,
  sipLabels,
  SipParser,
  SipPayload,
  type SipConfig,
  type SipConfigInput,
} from './sip-parser.ts';
export { BodyKind, parseSipMessage, MAX_SIP_HEADERS, SipHeader, SipMessage, SipMethod, type SipParseResult } from './message.ts';
export { parseSdp, sdpToJson, Sdp, SdpMedia, STATIC_PAYLOAD_TYPES, type SdpAddress, type SdpDirection, type SdpOrigin, type SdpRtpmap } from './sdp.ts';
export { reasonsOf, SIP_MALFORMED_REASONS, type SipMalformedReason } from './reasons.ts';
export { MediaTracker, type MediaEndpoint } from './media-tracker.ts';
