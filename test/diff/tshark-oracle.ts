// The tshark side of the decoder's differential test (tshark-diff.test.ts):
// the fields asked of tshark and how one line of its `-T fields` output
// becomes what Otus must report for that frame. See the test's header for
// how occurrences are mapped to layers.

/** The fields asked of tshark, in this order (tshark 4.0 names). */
const FIELDS = [
  'frame.number',
  'frame.protocols',
  'frame.len',
  'frame.cap_len',
  'frame.time_epoch',
  'ip.src',
  'ip.dst',
  'ip.ttl',
  'ip.len',
  'ip.hdr_len',
  'ip.proto',
  'ip.flags.mf',
  'ip.frag_offset',
  'ip.reassembled.length',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.plen',
  'ipv6.hopopts.len_oct',
  'ipv6.routing.len_oct',
  'ipv6.dstopts.len_oct',
  'ah.length',
  'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more',
  'ipv6.reassembled.length',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'udp.payload',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.len',
  'tcp.payload',
  'vlan.id',
  'ieee8021ad.id',
  'vxlan.vni',
  'geneve.vni',
  'gre.key',
  'erspan.spanid',
] as const;
type Field = (typeof FIELDS)[number];

export interface ExpectedTunnel {
  type: string;
  outer_src_ip: string;
  outer_dst_ip: string;
  vni: number | null;
}

/** What a frame should produce, derived from tshark. */
export interface Expected {
  frame: number;
  /** An IP fragment tshark holds for reassembly: Otus must write no record. */
  held: boolean;
  /** The frame carries no IP packet at all (tshark shows no IP layer). */
  noIp: boolean;
  ts: string; // "sec.nnnnnnnnn"
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  proto: number;
  ip_version: number;
  ttl: number;
  vlans: number[];
  tunnel: ExpectedTunnel | null;
  fragmented: boolean;
  /** L4 payload bytes in the record (captured ones when the snaplen cut them). */
  payload_length: number;
  /** The payload bytes as hex, when tshark shows them (UDP, TCP). */
  payload_hex: string | null;
  truncated: boolean;
  frame_len: number;
  protocols: string;
}

interface IpLayer {
  version: 4 | 6;
  src: string;
  dst: string;
  ttl: number;
  /** IPv4 protocol field (IPv6: -1). */
  proto: number;
  /** Bytes after the IP header and its extension headers (null when unknown). */
  l3Payload: number | null;
  fragment: boolean;
  /** Extension header bytes after the IPv6 Fragment header (part of the reassembled length). */
  extAfterFrag: number;
  sawFrag: boolean;
}

function num(s: string | undefined): number {
  if (s === undefined || s === '') return NaN;
  return Number(s); // handles "0x..." (geneve.vni, gre.key are hex in tshark 4.0)
}

export function tsharkArgs(file: string): string[] {
  const args = ['-n', '-r', file, '-o', 'ip.defragment:TRUE', '-o', 'ipv6.defragment:TRUE', '-T', 'fields'];
  args.push('-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,', '-E', 'quote=n');
  for (const f of FIELDS) args.push('-e', f);
  return args;
}

/** Turns one line of tshark -T fields output into what Otus must report. */
export function expectedFromTshark(line: string): Expected {
  const cols = line.split('\t');
  const v = new Map<Field, string[]>();
  FIELDS.forEach((f, i) => {
    const c = cols[i] ?? '';
    v.set(f, c === '' ? [] : c.split(','));
  });
  const all = (f: Field) => v.get(f)!;
  const at = (f: Field, i: number) => all(f)[i];
  const idx: Partial<Record<string, number>> = {};
  const next = (k: string) => {
    const i = idx[k] ?? 0;
    idx[k] = i + 1;
    return i;
  };

  const protocols = at('frame.protocols', 0) ?? '';
  const tokens = protocols.split(':');
  const layers: IpLayer[] = [];
  const markers: { name: string; afterLayers: number }[] = [];
  let l4: { proto: number; sport: number; dport: number; declared: number | null } | null = null;
  let cur: IpLayer | null = null;
  const vlans: number[] = [];
  const addExt = (n: number) => {
    if (!cur) return;
    if (cur.l3Payload !== null) cur.l3Payload -= n;
    if (cur.sawFrag) cur.extAfterFrag += n;
  };

  for (const tok of tokens) {
    let stop = false;
    switch (tok) {
      case 'ip': {
        const i = next('ip');
        const len = num(at('ip.len', i));
        const hl = num(at('ip.hdr_len', i));
        cur = {
          version: 4,
          src: at('ip.src', i) ?? '',
          dst: at('ip.dst', i) ?? '',
          ttl: num(at('ip.ttl', i)),
          proto: num(at('ip.proto', i)),
          l3Payload: len - hl,
          fragment: at('ip.flags.mf', i) === '1' || at('ip.flags.mf', i) === 'True' || num(at('ip.frag_offset', i)) > 0,
          extAfterFrag: 0,
          sawFrag: false,
        };
        layers.push(cur);
        l4 = null;
        break;
      }
      case 'ipv6': {
        const i = next('ipv6');
        cur = {
          version: 6,
          src: at('ipv6.src', i) ?? '',
          dst: at('ipv6.dst', i) ?? '',
          ttl: num(at('ipv6.hlim', i)),
          proto: -1,
          l3Payload: num(at('ipv6.plen', i)),
          fragment: false,
          extAfterFrag: 0,
          sawFrag: false,
        };
        layers.push(cur);
        l4 = null;
        break;
      }
      case 'ipv6.hopopts':
        addExt(num(at('ipv6.hopopts.len_oct', next('hop'))));
        break;
      case 'ipv6.routing':
        addExt(num(at('ipv6.routing.len_oct', next('rt'))));
        break;
      case 'ipv6.dstopts':
        addExt(num(at('ipv6.dstopts.len_oct', next('dst'))));
        break;
      case 'ah':
        addExt((num(at('ah.length', next('ah'))) + 2) * 4);
        break;
      case 'ipv6.fraghdr': {
        const i = next('frag');
        addExt(8);
        if (cur) {
          cur.sawFrag = true;
          cur.fragment = num(at('ipv6.fraghdr.offset', i)) > 0 || ['1', 'True', 'Yes'].includes(at('ipv6.fraghdr.more', i) ?? '');
        }
        break;
      }
      case 'udp': {
        const i = next('udp');
        const ulen = num(at('udp.length', i));
        l4 = { proto: 17, sport: num(at('udp.srcport', i)), dport: num(at('udp.dstport', i)), declared: ulen - 8 };
        break;
      }
      case 'tcp': {
        const i = next('tcp');
        l4 = { proto: 6, sport: num(at('tcp.srcport', i)), dport: num(at('tcp.dstport', i)), declared: num(at('tcp.len', i)) };
        break;
      }
      case 'icmp':
      case 'icmpv6':
        l4 = { proto: tok === 'icmp' ? 1 : 58, sport: 0, dport: 0, declared: null };
        stop = true; // what follows is the quoted offending packet, not a layer
        break;
      case 'vlan': // 802.1Q (0x8100)
        vlans.push(num(at('vlan.id', next('vlan'))));
        break;
      case 'ieee8021ad': // 802.1ad S-tag (0x88a8)
        vlans.push(num(at('ieee8021ad.id', next('8021ad'))));
        break;
      case 'vxlan':
      case 'geneve':
      case 'gre':
      case 'erspan':
        markers.push({ name: tok, afterLayers: layers.length });
        break;
      default:
        break;
    }
    if (stop) break;
  }

  const frame = num(at('frame.number', 0));
  const frameLen = num(at('frame.len', 0));
  const capLen = num(at('frame.cap_len', 0));
  const reasm4 = all('ip.reassembled.length');
  const reasm6 = all('ipv6.reassembled.length');
  const reassembled = (l: IpLayer) => (l.version === 4 ? reasm4.length > 0 : reasm6.length > 0);
  const held = layers.some((l) => l.fragment && !reassembled(l));
  const fragmented = layers.some((l) => l.fragment && reassembled(l));
  const inner = layers[layers.length - 1];

  // Tunnel: the encapsulation between the outermost and the next IP layer.
  let tunnel: ExpectedTunnel | null = null;
  if (layers.length >= 2) {
    const between = markers.filter((m) => m.afterLayers === 1).map((m) => m.name);
    const outer = layers[0]!;
    let type = 'ipip';
    let vni: number | null = null;
    if (between.includes('erspan')) {
      type = 'erspan';
      vni = num(at('erspan.spanid', 0));
    } else if (between.includes('gre')) {
      type = 'gre';
      const k = at('gre.key', 0);
      vni = k === undefined ? null : num(k);
    } else if (between.includes('vxlan')) {
      type = 'vxlan';
      vni = num(at('vxlan.vni', 0));
    } else if (between.includes('geneve')) {
      type = 'geneve';
      vni = num(at('geneve.vni', 0));
    }
    tunnel = { type, outer_src_ip: outer.src, outer_dst_ip: outer.dst, vni };
  }

  // L4 payload.
  let declared = 0;
  let hex: string | null = null;
  let proto = inner ? (inner.version === 4 ? inner.proto : -1) : 0;
  if (l4) {
    proto = l4.proto;
    if (l4.declared !== null) declared = l4.declared;
    else if (inner) {
      const l3 = l3PayloadOf(inner, reasm4, reasm6);
      declared = l3 === null ? NaN : Math.max(0, l3 - 8);
    }
    // the innermost payload is the last occurrence of udp.payload / tcp.payload
    if (l4.proto === 17 || l4.proto === 6) {
      const p = all(l4.proto === 17 ? 'udp.payload' : 'tcp.payload');
      hex = declared === 0 ? '' : (p[p.length - 1] ?? '');
    }
  } else if (inner) {
    const l3 = l3PayloadOf(inner, reasm4, reasm6);
    declared = l3 ?? NaN;
  }
  const cut = capLen < frameLen ? frameLen - capLen : 0;
  const payloadLength = Math.max(0, declared - cut);
  if (hex !== null && hex.length > payloadLength * 2) hex = hex.slice(0, payloadLength * 2);

  const ts = at('frame.time_epoch', 0) ?? '';
  return {
    frame,
    held,
    noIp: layers.length === 0,
    ts,
    src_ip: inner?.src ?? '',
    dst_ip: inner?.dst ?? '',
    src_port: l4?.sport ?? 0,
    dst_port: l4?.dport ?? 0,
    proto,
    ip_version: inner?.version ?? 0,
    ttl: inner?.ttl ?? 0,
    vlans,
    tunnel,
    fragmented,
    payload_length: payloadLength,
    payload_hex: hex,
    truncated: cut > 0,
    frame_len: frameLen,
    protocols,
  };
}

function l3PayloadOf(l: IpLayer, reasm4: string[], reasm6: string[]): number | null {
  if (l.fragment) {
    if (l.version === 4) return reasm4.length ? num(reasm4[reasm4.length - 1]) : null;
    return reasm6.length ? num(reasm6[reasm6.length - 1]) - l.extAfterFrag : null;
  }
  return l.l3Payload;
}

