// Why a SIP message or its SDP body was (partly) unusable. A parse collects
// them as a bit mask (at most once per message each); the parser's stats()
// counts messages per reason as malformed_<reason>.

export const SIP_MALFORMED_REASONS = [
  // the message
  'no_crlf', // no line terminator at all: not a SIP message
  'bad_start_line', // neither "METHOD URI SIP/2.0" nor "SIP/2.0 CODE REASON"
  'bad_version', // a start line whose version is not SIP/2.0
  'bad_status_code', // a status line whose code is not three digits in 100-699
  'bare_lf', // lines ended by LF alone (accepted)
  'header_without_colon', // a header line with no ':' (skipped)
  'bad_header_name', // an empty or non-token header name (skipped)
  'bad_folding', // a continuation line with no header to continue (skipped)
  'too_many_headers', // more than MAX_SIP_HEADERS header lines (the rest skipped)
  'no_header_end', // no empty line after the headers (no body)
  'missing_call_id', // no (or an empty) Call-ID: the message is not reported
  'missing_from',
  'missing_to',
  'missing_cseq',
  'bad_cseq', // CSeq is not "<number> <method>"
  'bad_content_length', // Content-Length is not a number (the rest of the datagram is the body)
  'truncated_body', // Content-Length is more than the bytes there (what is there is parsed)
  'bad_multipart', // a multipart body without a boundary or a closing delimiter
  // the SDP body
  'sdp_bad_line', // a line that is not "<letter>=<value>" (skipped)
  'sdp_bad_origin', // an o= line without its six fields
  'sdp_bad_connection', // a c= line that is not "IN IP4|IP6 <address>", or a bad address
  'sdp_bad_media', // an m= line without media, a port in 0-65535 or a protocol (media skipped)
  'sdp_bad_attribute', // a malformed a=rtpmap or a=rtcp (ignored)
  'sdp_no_connection', // a media line with no c= at either level (not registered)
] as const;
export type SipMalformedReason = (typeof SIP_MALFORMED_REASONS)[number];

/** Bit of each reason in an error mask. */
export const E = Object.fromEntries(SIP_MALFORMED_REASONS.map((r, i) => [r, 1 << i])) as Record<SipMalformedReason, number>;

/** The reasons of a mask, in list order. */
export function reasonsOf(mask: number): SipMalformedReason[] {
  const out: SipMalformedReason[] = [];
  for (let i = 0; i < SIP_MALFORMED_REASONS.length; i++) if ((mask & (1 << i)) !== 0) out.push(SIP_MALFORMED_REASONS[i]!);
  return out;
}
