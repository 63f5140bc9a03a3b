// Why the decoder dropped a frame or passed it with only part decoded. Each
// reason is a small integer so that counting is an array increment on the
// per-packet path; names are looked up only when stats are read.
export const Reason = {
  unsupported_link_type: 0,
  link_truncated: 1,
  vlan_truncated: 2,
  vlan_too_deep: 3,
  ipv4_truncated: 4,
  ipv4_bad_header: 5,
  ipv4_bad_length: 6,
  ipv6_truncated: 7,
  ipv6_bad_header: 8,
  ipv6_ext_truncated: 9,
  ipv6_ext_chain_too_long: 10,
  udp_truncated: 11,
  udp_bad_length: 12,
  tcp_truncated: 13,
  tcp_bad_header: 14,
  icmp_truncated: 15,
  tunnel_truncated: 16,
  tunnel_bad_header: 17,
  tunnel_too_deep: 18,
  fragment_truncated: 19,
  fragment_bad_length: 20,
  fragment_too_big: 21,
  fragment_overlap: 22,
  fragment_too_many_pieces: 23,
  network_truncated: 24,
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

export const REASON_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, code] of Object.entries(Reason)) names[code] = name;
  return names;
})();

export const REASON_COUNT = REASON_NAMES.length;
