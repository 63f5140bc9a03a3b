// Registers the rtp parser.
export {
  DEFAULT_RTP_MAX_PORT,
  DEFAULT_RTP_MIN_PORT,
  RTP_HEADER_LEN,
  RTP_MALFORMED_REASONS,
  RtpParser,
  RtpPayload,
  rtpConfigSchema,
  type RtpConfig,
  type RtpConfigInput,
  type RtpMalformedReason,
} from './rtp-parser.ts';
