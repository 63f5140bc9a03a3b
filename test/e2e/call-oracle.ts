// The tshark side of the SIP/RTP/RTCP/DNS differential test
// (call-diff.test.ts): which frames tshark dissects as sip, rtp, rtcp or dns,
// with which values, and which call each RTP/RTCP frame belongs to.
//
// tshark classifies media independently of Otus: a first pass reads every
// SDP body (media ports and a=rtcp attributes), the second pass dissects the
// file with `-d udp.port==P,rtp` for every media port and
// `-d udp.port==R,rtcp` for its RTCP port (P+1 unless a=rtcp says
// otherwise). The call of a media frame is worked out here, from tshark's
// fields: the Call-ID of the latest SDP (before that frame) that announced
// the frame's destination address and port, else its source.
import { spawnSync } from 'node:child_process';

export type AppProto = 'sip' | 'rtp' | 'rtcp' | 'dns';

export interface OracleFrame {
  frame: number;
  protocols: string;
  /** The innermost application protocol of the four, or null when tshark shows none of them. */
  proto: AppProto | null;
  sip?: { method: string | null; status: string | null; callId: string };
  rtp?: { ssrc: string; pt: string };
  rtcp?: { types: number[]; ssrc: string };
  dns?: { id: string; query: string; type: string };
  /** RTP/RTCP: the Call-ID of the call whose SDP announced this media (null if none did). */
  callId?: string | null;
}

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'udp.srcport',
  'udp.dstport',
  'sip.Method',
  'sip.Status-Code',
  'sip.Call-ID',
  'sdp.connection_info.address',
  'sdp.media.port',
  'sdp.media_attr',
  'rtp.ssrc',
  'rtp.p_type',
  'rtcp.pt',
  'rtcp.senderssrc',
  'dns.id',
  'dns.qry.name',
  'dns.qry.type',
] as const;
type Field = (typeof FIELDS)[number];

// Separator of repeated occurrences: SDP attributes and SIP values may hold
// commas, never this control character.
const AGG = '\x1f';

/** DNS type numbers of the generated captures, with the mnemonics Otus reports (RFC 1035, 3596, 2782). */
const DNS_TYPES: Record<string, string> = {
  '1': 'A',
  '2': 'NS',
  '5': 'CNAME',
  '6': 'SOA',
  '12': 'PTR',
  '15': 'MX',
  '16': 'TXT',
  '28': 'AAAA',
  '33': 'SRV',
  '255': 'ANY',
};

function tshark(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.error ? String(r.error) : `exit ${r.status}`}\n${r.stderr}`);
  return r.stdout;
}

/** RTP and RTCP ports from every SDP body of the file (first pass). */
export function mediaPorts(file: string): { rtp: Set<number>; rtcp: Set<number> } {
  const out = tshark(['-n', '-r', file, '-Y', 'sdp', '-T', 'fields', '-E', `aggregator=${AGG}`, '-E', 'occurrence=a', '-e', 'sdp.media.port', '-e', 'sdp.media_attr']);
  const rtp = new Set<number>();
  const rtcp = new Set<number>();
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [ports = '', attrs = ''] = line.split('\t');
    const plist = ports.split(AGG).filter(Boolean).map(Number);
    const explicit = attrs
      .split(AGG)
      .filter((a) => a.startsWith('rtcp:'))
      .map((a) => Number(a.slice(5).split(' ')[0]));
    plist.forEach((p, i) => {
      if (!p) return; // port 0: the stream is disabled
      rtp.add(p);
      rtcp.add(explicit[i] ?? p + 1);
    });
  }
  return { rtp, rtcp };
}

export function decodeAsArgs(file: string): string[] {
  const { rtp, rtcp } = mediaPorts(file);
  const args: string[] = [];
  for (const p of rtp) args.push('-d', `udp.port==${p},rtp`);
  for (const p of rtcp) if (!rtp.has(p)) args.push('-d', `udp.port==${p},rtcp`);
  return args;
}

/** Dissects `file` and returns what Otus must report per frame. */
export function oracle(file: string): OracleFrame[] {
  const args = ['-n', '-r', file, '-o', 'ip.defragment:TRUE', '-o', 'ipv6.defragment:TRUE', ...decodeAsArgs(file), '-T', 'fields'];
  args.push('-E', 'separator=/t', '-E', 'occurrence=a', '-E', `aggregator=${AGG}`, '-E', 'quote=n');
  for (const f of FIELDS) args.push('-e', f);
  const owner = new Map<string, string>(); // "ip port" -> Call-ID of the SDP that announced it
  const frames: OracleFrame[] = [];
  for (const line of tshark(args).split('\n')) {
    if (!line.trim()) continue;
    const cols = line.split('\t');
    const all = (f: Field) => {
      const c = cols[FIELDS.indexOf(f)] ?? '';
      return c === '' ? [] : c.split(AGG);
    };
    const last = (f: Field) => {
      const a = all(f);
      return a[a.length - 1];
    };
    const first = (f: Field) => all(f)[0];
    const protocols = first('frame.protocols') ?? '';
    const tokens = protocols.split(':');
    let proto: AppProto | null = null;
    for (const t of tokens) if (t === 'sip' || t === 'rtp' || t === 'rtcp' || t === 'dns') proto = t;
    // innermost addresses: the last IP layer of the frame
    const v6 = tokens.lastIndexOf('ipv6') > tokens.lastIndexOf('ip');
    const src = (v6 ? last('ipv6.src') : last('ip.src')) ?? '';
    const dst = (v6 ? last('ipv6.dst') : last('ip.dst')) ?? '';
    const sport = last('udp.srcport') ?? '';
    const dport = last('udp.dstport') ?? '';
    const f: OracleFrame = { frame: Number(first('frame.number')), protocols, proto };
    if (proto === 'sip') {
      const callId = first('sip.Call-ID') ?? '';
      f.sip = { method: first('sip.Method') ?? null, status: first('sip.Status-Code') ?? null, callId };
      const addr = last('sdp.connection_info.address');
      const ports = all('sdp.media.port').map(Number);
      const attrs = all('sdp.media_attr').filter((a) => a.startsWith('rtcp:'));
      if (addr) {
        ports.forEach((p, i) => {
          if (!p) return;
          owner.set(`${addr} ${p}`, callId);
          const rtcp = attrs[i] ? Number(attrs[i]!.slice(5).split(' ')[0]) : p + 1;
          owner.set(`${addr} ${rtcp}`, callId);
        });
      }
    } else if (proto === 'rtp') {
      f.rtp = { ssrc: String(Number(first('rtp.ssrc'))), pt: first('rtp.p_type') ?? '' };
    } else if (proto === 'rtcp') {
      f.rtcp = { types: all('rtcp.pt').map(Number), ssrc: String(Number(first('rtcp.senderssrc'))) };
    } else if (proto === 'dns') {
      const t = first('dns.qry.type') ?? '';
      f.dns = { id: String(Number(first('dns.id'))), query: first('dns.qry.name') ?? '', type: DNS_TYPES[t] ?? `TYPE${t}` };
    }
    if (proto === 'rtp' || proto === 'rtcp') f.callId = owner.get(`${dst} ${dport}`) ?? owner.get(`${src} ${sport}`) ?? null;
    frames.push(f);
  }
  return frames;
}

/** RTCP packet type numbers (RFC 3550, 4585, 3611) by the names Otus reports. */
export const RTCP_TYPE_NUMBERS: Record<string, number> = { SR: 200, RR: 201, SDES: 202, BYE: 203, APP: 204, RTPFB: 205, PSFB: 206, XR: 207 };
