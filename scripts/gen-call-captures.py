#!/usr/bin/python3
"""Builds the scapy cases of the SIP/RTP/RTCP/DNS end-to-end tests.

Usage: /usr/bin/python3 scripts/gen-call-captures.py OUTDIR

Called by scripts/gen-call-captures.sh after it has recorded the real sipp
calls. Deterministic: addresses, ports, ids, timestamps and payloads are
fixed, so two runs write identical files. Each case is a complete call (or
DNS exchange) in its own file, in the order a real exchange has it: media
only after the SDP that announces it.

Cases (file name -> what it exercises):
  call-frag-ipv4.pcap      INVITE whose SDP makes it ~2.4 KB: three IPv4 fragments
  call-frag-ipv6.pcap      the same over IPv6 (Fragment extension header)
  call-compact.pcap        compact header forms (i f t v m l c k s e), lower-case names
  call-reinvite.pcap       a re-INVITE moving the caller's media to another port
  call-vlan.pcap           the whole call inside 802.1Q VLAN 42 (and an 802.1ad+802.1Q pair)
  call-vxlan.pcap          the whole call inside VXLAN (VNI 5001); needs tunnel.vxlan on
  call-rtcp-compound.pcap  RTCP compound packets: SR+SDES, RR+SDES+BYE, SR+SDES+APP,
                           RR+SDES+XR; RTCP port from a=rtcp
  dns-compression.pcap     DNS queries and answers (A, AAAA, CNAME, MX, SRV, TXT, PTR,
                           NS, SOA) whose names are compressed
  sip-options-register.pcap OPTIONS and REGISTER traffic around one INVITE call
                           (the filter processor's case)
  malformed-mixed.pcap     a good call plus malformed SIP, SDP, RTP, RTCP and DNS
                           (each must be counted by reason, none fatal)
  malformed-damaged.pcap   a good call whose file is cut in the middle of a record

Names starting with "malformed-" are left out of the tshark comparison.
"""
import os
import struct
import sys

from scapy.config import conf

conf.verb = 0
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRRSOA, DNSRRSRV, dns_compress  # noqa: E402
from scapy.layers.inet import IP, UDP, fragment  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6  # noqa: E402
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.utils import wrpcap  # noqa: E402

BASE = 1767225600.0  # 2026-01-01T00:00:00Z
MAC_A, MAC_B = "02:00:00:00:01:0a", "02:00:00:00:01:0b"
CRLF = "\r\n"


class Capture:
    """Packets with their timestamps, written in order."""

    def __init__(self, start):
        self.t = BASE + start
        self.pkts = []

    def add(self, pkt, gap=0.02):
        self.t += gap
        pkt.time = round(self.t, 6)
        self.pkts.append(pkt)

    def write(self, path):
        wrpcap(path, self.pkts, linktype=1)


# ---------------------------------------------------------------------------
# SIP / SDP text


def sdp(user, addr, port, fmts=(0, 8, 101), extra=(), v6=False, sess_id=1000):
    ipt = "IP6" if v6 else "IP4"
    names = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000", 101: "telephone-event/8000"}
    lines = [
        "v=0",
        f"o={user} {sess_id} {sess_id} IN {ipt} {addr}",
        "s=-",
        f"c=IN {ipt} {addr}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(f) for f in fmts)}",
    ]
    lines += [f"a=rtpmap:{f} {names[f]}" for f in fmts]
    lines += list(extra)
    lines.append("a=sendrecv")
    return CRLF.join(lines) + CRLF


def sip(start, headers, body="", ctype="application/sdp", cl_name="Content-Length", ct_name="Content-Type"):
    h = list(headers)
    if body:
        h.append(f"{ct_name}: {ctype}")
    h.append(f"{cl_name}: {len(body.encode())}")
    return (start + CRLF + CRLF.join(h) + CRLF + CRLF + body).encode()


class Dialog:
    """Builds the requests and responses of one call between a and b."""

    def __init__(self, call_id, a, b, a_port=5060, b_port=5060, compact=False):
        self.call_id, self.a, self.b = call_id, a, b
        self.a_port, self.b_port = a_port, b_port
        self.compact = compact
        self.cseq = 0
        self.branch = 0

    def _host(self, ip):
        return f"[{ip}]" if ":" in ip else ip

    def request(self, method, body="", cseq=None, to_tag=True):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        self.branch += 1
        a, b = self._host(self.a), self._host(self.b)
        tt = ";tag=callee-1" if to_tag and method != "INVITE" or (method == "INVITE" and self.cseq > 1) else ""
        if self.compact:
            hdrs = [
                f"v: SIP/2.0/UDP {a}:{self.a_port};branch=z9hG4bK{self.call_id[:6]}{self.branch}",
                f"f: <sip:alice@{a}>;tag=caller-1",
                f"t: <sip:bob@{b}>{tt}",
                f"i: {self.call_id}",
                f"cseq: {cseq} {method}",
                f"m: <sip:alice@{a}:{self.a_port}>",
                "max-forwards: 70",
                "k: 100rel",
                "s: compact forms",
                "e: identity",
            ]
            return sip(f"{method} sip:bob@{b}:{self.b_port} SIP/2.0", hdrs, body, cl_name="l", ct_name="c")
        hdrs = [
            f"Via: SIP/2.0/UDP {a}:{self.a_port};branch=z9hG4bK{self.call_id[:6]}{self.branch}",
            f"From: \"Alice\" <sip:alice@{a}>;tag=caller-1",
            f"To: <sip:bob@{b}>{tt}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:alice@{a}:{self.a_port}>",
            "Max-Forwards: 70",
            "User-Agent: otus-test-generator",
        ]
        return sip(f"{method} sip:bob@{b}:{self.b_port} SIP/2.0", hdrs, body)

    def response(self, code, reason, method, cseq=None, body=""):
        a, b = self._host(self.a), self._host(self.b)
        cseq = self.cseq if cseq is None else cseq
        tt = "" if code == 100 else ";tag=callee-1"
        if self.compact:
            hdrs = [
                f"v: SIP/2.0/UDP {a}:{self.a_port};branch=z9hG4bK{self.call_id[:6]}{self.branch}",
                f"f: <sip:alice@{a}>;tag=caller-1",
                f"t: <sip:bob@{b}>{tt}",
                f"i: {self.call_id}",
                f"cseq: {cseq} {method}",
            ]
            if body:
                hdrs.append(f"m: <sip:bob@{b}:{self.b_port}>")
            return sip(f"SIP/2.0 {code} {reason}", hdrs, body, cl_name="l", ct_name="c")
        hdrs = [
            f"Via: SIP/2.0/UDP {a}:{self.a_port};branch=z9hG4bK{self.call_id[:6]}{self.branch}",
            f"From: \"Alice\" <sip:alice@{a}>;tag=caller-1",
            f"To: <sip:bob@{b}>{tt}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
        ]
        if body:
            hdrs.append(f"Contact: <sip:bob@{b}:{self.b_port}>")
        return sip(f"SIP/2.0 {code} {reason}", hdrs, body)


# ---------------------------------------------------------------------------
# RTP / RTCP bytes


def rtp(pt, seq, ts, ssrc, marker=False, n=160):
    b0, b1 = 0x80, (0x80 if marker else 0) | pt
    return struct.pack("!BBHII", b0, b1, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + bytes([0xD5 if pt == 8 else 0xFF]) * n


def rtcp_hdr(count, pt, body):
    assert len(body) % 4 == 0
    return struct.pack("!BBH", 0x80 | count, pt, len(body) // 4) + body


def report_block(ssrc, lost=0, seq=100):
    return struct.pack("!IIIIII", ssrc, lost & 0xFFFFFF, seq, 20, 0, 0)


def sr(ssrc, count, blocks=()):
    body = struct.pack("!IIIIII", ssrc, 3976214400 + count, 0, count * 160, count, count * 160)
    return rtcp_hdr(len(blocks), 200, body + b"".join(blocks))


def rr(ssrc, blocks=()):
    return rtcp_hdr(len(blocks), 201, struct.pack("!I", ssrc) + b"".join(blocks))


def sdes(ssrc, cname):
    chunk = struct.pack("!I", ssrc) + bytes([1, len(cname)]) + cname + b"\x00"
    chunk += b"\x00" * ((4 - len(chunk) % 4) % 4)
    return rtcp_hdr(1, 202, chunk)


def bye(ssrc, reason=b""):
    body = struct.pack("!I", ssrc)
    if reason:
        r = bytes([len(reason)]) + reason
        r += b"\x00" * ((4 - len(r) % 4) % 4)
        body += r
    return rtcp_hdr(1, 203, body)


def app(ssrc, name, data):
    return rtcp_hdr(0, 204, struct.pack("!I", ssrc) + name + data)


def xr(ssrc):
    # One Receiver Reference Time report block (BT=4) and one DLRR block (BT=5).
    rrt = struct.pack("!BBHII", 4, 0, 2, 3976214400, 0)
    dlrr = struct.pack("!BBHIII", 5, 0, 3, 0x01020304, 0x11223344, 0x100)
    return rtcp_hdr(0, 207, struct.pack("!I", ssrc) + rrt + dlrr)


# ---------------------------------------------------------------------------
# Frames


def l3(src, dst):
    return IPv6(src=src, dst=dst, hlim=64) if ":" in src else IP(src=src, dst=dst, ttl=64, id=0x4000)


def frame(src, dst, sport, dport, payload, wrap=None):
    inner = l3(src, dst) / UDP(sport=sport, dport=dport) / Raw(payload)
    if wrap is None:
        return Ether(src=MAC_A, dst=MAC_B) / inner
    return wrap(inner)


def media(cap, a, a_port, b, b_port, n, pt=0, ssrc_a=0x1111AAAA, ssrc_b=0x2222BBBB, seq0=1000, wrap=None):
    """n RTP packets each way, interleaved (20 ms apart)."""
    for i in range(n):
        cap.add(frame(a, b, a_port, b_port, rtp(pt, seq0 + i, 160 * i, ssrc_a, marker=i == 0), wrap), 0.01)
        cap.add(frame(b, a, b_port, a_port, rtp(pt, seq0 + 500 + i, 160 * i, ssrc_b, marker=i == 0), wrap), 0.01)


def call(cap, d, a_media, b_media, n_rtp=8, pt=0, rtcp=True, wrap=None, offer_extra=(), bye_at_end=True, ssrcs=(0x1111AAAA, 0x2222BBBB)):
    """A whole call: INVITE/100/180/200/ACK, media, RTCP, BYE/200."""
    v6 = ":" in d.a
    offer = sdp("alice", d.a, a_media, extra=offer_extra, v6=v6)
    answer = sdp("bob", d.b, b_media, fmts=(pt, 101), v6=v6, sess_id=2000)
    send = lambda data, rev=False: cap.add(  # noqa: E731
        frame(d.b, d.a, d.b_port, d.a_port, data, wrap) if rev else frame(d.a, d.b, d.a_port, d.b_port, data, wrap)
    )
    send(d.request("INVITE", offer))
    send(d.response(100, "Trying", "INVITE"), True)
    send(d.response(180, "Ringing", "INVITE"), True)
    send(d.response(200, "OK", "INVITE", body=answer), True)
    send(d.request("ACK", cseq=d.cseq))
    media(cap, d.a, a_media, d.b, b_media, n_rtp, pt, ssrcs[0], ssrcs[1], wrap=wrap)
    if rtcp:
        cap.add(frame(d.a, d.b, a_media + 1, b_media + 1, sr(ssrcs[0], n_rtp) + sdes(ssrcs[0], b"alice@gen"), wrap))
        cap.add(frame(d.b, d.a, b_media + 1, a_media + 1, sr(ssrcs[1], n_rtp, [report_block(ssrcs[0])]) + sdes(ssrcs[1], b"bob@gen"), wrap))
    if bye_at_end:
        send(d.request("BYE"))
        send(d.response(200, "OK", "BYE"), True)


# ---------------------------------------------------------------------------
# Cases


def case_frag_ipv4(out):
    cap = Capture(0)
    d = Dialog("frag4-8d1c0e@192.0.2.10", "192.0.2.10", "192.0.2.20")
    # ~2.4 KB of SDP: many rtpmap/fmtp lines, as a softphone offering every codec does
    extra = [f"a=fmtp:101 0-{i}" for i in range(16)] + [f"a=x-otus-padding:{'p' * 100}{i}" for i in range(16)]
    offer = sdp("alice", d.a, 40000, extra=extra)
    inv = IP(src=d.a, dst=d.b, ttl=64, id=0x1234) / UDP(sport=5060, dport=5060) / Raw(d.request("INVITE", offer))
    frags = fragment(inv, fragsize=1000)
    assert len(frags) == 3, len(frags)
    for f in frags:
        cap.add(Ether(src=MAC_A, dst=MAC_B) / f, 0.001)
    answer = sdp("bob", d.b, 50000, fmts=(0, 101), sess_id=2000)
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(100, "Trying", "INVITE")))
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "INVITE", body=answer)))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("ACK", cseq=1)))
    media(cap, d.a, 40000, d.b, 50000, 6)
    cap.add(frame(d.a, d.b, 40001, 50001, sr(0x1111AAAA, 6) + sdes(0x1111AAAA, b"alice@frag4")))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("BYE")))
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "BYE")))
    cap.write(os.path.join(out, "call-frag-ipv4.pcap"))


def case_frag_ipv6(out):
    cap = Capture(60)
    d = Dialog("frag6-77aa01@2001:db8::10", "2001:db8::10", "2001:db8::20")
    extra = [f"a=fmtp:101 0-{i}" for i in range(16)] + [f"a=x-otus-padding:{'q' * 100}{i}" for i in range(16)]
    offer = sdp("alice", d.a, 41000, extra=extra, v6=True)
    inv = IPv6(src=d.a, dst=d.b, hlim=64) / IPv6ExtHdrFragment(id=0xABCD) / UDP(sport=5060, dport=5060) / Raw(d.request("INVITE", offer))
    frags = fragment6(inv, 1280)
    assert len(frags) >= 2, len(frags)
    for f in frags:
        cap.add(Ether(src=MAC_A, dst=MAC_B) / f, 0.001)
    answer = sdp("bob", d.b, 51000, fmts=(8, 101), v6=True, sess_id=2000)
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "INVITE", body=answer)))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("ACK", cseq=1)))
    media(cap, d.a, 41000, d.b, 51000, 6, pt=8)
    cap.add(frame(d.b, d.a, 51001, 41001, rr(0x2222BBBB, [report_block(0x1111AAAA)]) + sdes(0x2222BBBB, b"bob@frag6")))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("BYE")))
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "BYE")))
    cap.write(os.path.join(out, "call-frag-ipv6.pcap"))


def case_compact(out):
    cap = Capture(120)
    d = Dialog("compact-5f3e@198.51.100.1", "198.51.100.1", "198.51.100.2", compact=True)
    call(cap, d, 42000, 52000, n_rtp=6, pt=8)
    cap.write(os.path.join(out, "call-compact.pcap"))


def case_reinvite(out):
    cap = Capture(180)
    d = Dialog("reinvite-31c9@203.0.113.5", "203.0.113.5", "203.0.113.6")
    call(cap, d, 43000, 53000, n_rtp=5, bye_at_end=False, rtcp=False)
    # re-INVITE: the caller moves its media to 43100 (same call, CSeq 2)
    moved = sdp("alice", d.a, 43100, sess_id=1001)
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("INVITE", moved)))
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "INVITE", body=sdp("bob", d.b, 53000, fmts=(0, 101), sess_id=2001))))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("ACK", cseq=2)))
    media(cap, d.a, 43100, d.b, 53000, 5, seq0=2000)
    cap.add(frame(d.a, d.b, 43101, 53001, sr(0x1111AAAA, 10) + sdes(0x1111AAAA, b"alice@moved")))
    cap.add(frame(d.a, d.b, 5060, 5060, d.request("BYE")))
    cap.add(frame(d.b, d.a, 5060, 5060, d.response(200, "OK", "BYE")))
    cap.write(os.path.join(out, "call-reinvite.pcap"))


def case_vlan(out):
    cap = Capture(240)
    d = Dialog("vlan-0042@10.42.0.1", "10.42.0.1", "10.42.0.2")
    call(cap, d, 44000, 54000, n_rtp=5, wrap=lambda p: Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=42) / p)
    d2 = Dialog("qinq-0043@10.43.0.1", "10.43.0.1", "10.43.0.2")
    call(cap, d2, 44100, 54100, n_rtp=3, wrap=lambda p: Ether(src=MAC_A, dst=MAC_B) / Dot1AD(vlan=300) / Dot1Q(vlan=43) / p)
    cap.write(os.path.join(out, "call-vlan.pcap"))


def case_vxlan(out):
    cap = Capture(300)
    d = Dialog("vxlan-5001@172.16.5.1", "172.16.5.1", "172.16.5.2")

    def wrap(p):
        inner = Ether(src="02:00:00:00:05:01", dst="02:00:00:00:05:02") / p
        return Ether(src=MAC_A, dst=MAC_B) / IP(src="192.0.2.200", dst="192.0.2.201", ttl=250) / UDP(sport=49152, dport=4789) / VXLAN(vni=5001) / inner

    call(cap, d, 45000, 55000, n_rtp=5, wrap=wrap)
    cap.write(os.path.join(out, "call-vxlan.pcap"))


def case_rtcp_compound(out):
    cap = Capture(360)
    d = Dialog("rtcp-c0de@192.0.2.30", "192.0.2.30", "192.0.2.40")
    # The caller says its RTCP is on 46009 (a=rtcp), not 46001.
    call(cap, d, 46000, 56000, n_rtp=4, rtcp=False, bye_at_end=False, offer_extra=["a=rtcp:46009"])
    a, b = d.a, d.b
    sa, sb = 0x1111AAAA, 0x2222BBBB
    cap.add(frame(a, b, 46009, 56001, sr(sa, 4) + sdes(sa, b"alice@rtcp")))
    cap.add(frame(b, a, 56001, 46009, rr(sb, [report_block(sa, 1)]) + sdes(sb, b"bob@rtcp")))
    cap.add(frame(a, b, 46009, 56001, sr(sa, 4, [report_block(sb)]) + sdes(sa, b"alice@rtcp") + app(sa, b"OTUS", b"\x00\x01\x02\x03")))
    cap.add(frame(b, a, 56001, 46009, rr(sb, [report_block(sa, 2)]) + sdes(sb, b"bob@rtcp") + xr(sb)))
    cap.add(frame(a, b, 46009, 56001, rr(sa) + sdes(sa, b"alice@rtcp") + bye(sa, b"hangup")))
    cap.add(frame(a, b, 5060, 5060, d.request("BYE")))
    cap.add(frame(b, a, 5060, 5060, d.response(200, "OK", "BYE")))
    cap.write(os.path.join(out, "call-rtcp-compound.pcap"))


def case_dns(out):
    cap = Capture(420)
    cl, sv = "192.0.2.53", "192.0.2.1"
    qs = [
        ("www.example.test.", "A", [DNSRR(rrname="www.example.test.", type="CNAME", ttl=60, rdata="web.example.test."),
                                     DNSRR(rrname="web.example.test.", type="A", ttl=60, rdata="192.0.2.80")]),
        ("www.example.test.", "AAAA", [DNSRR(rrname="www.example.test.", type="AAAA", ttl=60, rdata="2001:db8::80")]),
        ("example.test.", "MX", [DNSRRMX(rrname="example.test.", ttl=300, preference=10, exchange="mail.example.test.")]),
        ("_sip._udp.example.test.", "SRV", [DNSRRSRV(rrname="_sip._udp.example.test.", ttl=300, priority=10, weight=5, port=5060, target="sip.example.test.")]),
        ("example.test.", "TXT", [DNSRR(rrname="example.test.", type="TXT", ttl=300, rdata=[b"v=spf1 -all"])]),
        ("80.2.0.192.in-addr.arpa.", "PTR", [DNSRR(rrname="80.2.0.192.in-addr.arpa.", type="PTR", ttl=300, rdata="web.example.test.")]),
        ("example.test.", "NS", [DNSRR(rrname="example.test.", type="NS", ttl=300, rdata="ns1.example.test."),
                                 DNSRR(rrname="example.test.", type="NS", ttl=300, rdata="ns2.example.test.")]),
        ("missing.example.test.", "A", None),  # NXDOMAIN with the SOA in authority
    ]
    for i, (name, qtype, answers) in enumerate(qs):
        qid = 0x2000 + i
        q = DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype=qtype))
        cap.add(frame(cl, sv, 40000 + i, 53, bytes(q)))
        if answers is None:
            soa = DNSRRSOA(rrname="example.test.", ttl=300, mname="ns1.example.test.", rname="hostmaster.example.test.", serial=2026010101)
            r = DNS(id=qid, qr=1, aa=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname=name, qtype=qtype), ns=soa)
        else:
            an = answers[0]
            for extra in answers[1:]:
                an = an / extra
            r = DNS(id=qid, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype), an=an)
        wire = bytes(dns_compress(r))
        assert b"\xc0" in wire[12:], f"{name} {qtype}: not compressed"
        cap.add(frame(sv, cl, 53, 40000 + i, wire))
    cap.write(os.path.join(out, "dns-compression.pcap"))


def options_register(d_ip, reg_ip, n, cap, base_id):
    """OPTIONS keep-alives and REGISTERs with their 200 OKs."""
    for i in range(n):
        d = Dialog(f"opt-{base_id + i}@{reg_ip}", reg_ip, d_ip)
        cap.add(frame(reg_ip, d_ip, 5060, 5060, d.request("OPTIONS", to_tag=False)))
        cap.add(frame(d_ip, reg_ip, 5060, 5060, d.response(200, "OK", "OPTIONS")))
        r = Dialog(f"reg-{base_id + i}@{reg_ip}", reg_ip, d_ip)
        cap.add(frame(reg_ip, d_ip, 5060, 5060, r.request("REGISTER", to_tag=False)))
        cap.add(frame(d_ip, reg_ip, 5060, 5060, r.response(200, "OK", "REGISTER")))


def case_options_register(out):
    cap = Capture(480)
    options_register("192.0.2.100", "192.0.2.101", 3, cap, 1)
    d = Dialog("filtered-call-1@192.0.2.101", "192.0.2.101", "192.0.2.100")
    call(cap, d, 47000, 57000, n_rtp=4)
    options_register("192.0.2.100", "192.0.2.102", 2, cap, 10)
    cap.write(os.path.join(out, "sip-options-register.pcap"))


def case_malformed(out):
    cap = Capture(540)
    d = Dialog("good-call-1@192.0.2.60", "192.0.2.60", "192.0.2.70")
    call(cap, d, 48000, 58000, n_rtp=3, bye_at_end=False, rtcp=False)
    a, b = d.a, d.b
    bad = [
        # SIP: a start line that is neither a request nor a response
        (a, b, 5060, 5060, b"INVITE-ish nonsense\r\nCall-ID: x\r\n\r\n"),
        # SIP: a request without Call-ID
        (a, b, 5060, 5060, b"OPTIONS sip:x@192.0.2.70 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.60\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
        # SIP: Content-Length larger than the body
        (a, b, 5060, 5060, d.request("INFO").replace(b"Content-Length: 0", b"Content-Length: 400") + b"partial body"),
        # SDP: an m= line without a port
        (a, b, 5060, 5060, d.request("UPDATE", "v=0\r\no=alice 1 1 IN IP4 192.0.2.60\r\ns=-\r\nc=IN IP4 192.0.2.60\r\nt=0 0\r\nm=audio RTP/AVP\r\n")),
        # RTP on the registered flow: version 1 (with the extension bit: 0x40-0x4f
        # would be a TURN channel, RFC 7983), then too short
        (a, b, 48000, 58000, bytes([0x50, 0x00]) + b"\x00" * 20),
        (a, b, 48000, 58000, bytes([0x80, 0x00, 0x00])),
        # RTCP on the registered RTCP flow: length field beyond the packet
        (a, b, 48001, 58001, struct.pack("!BBHI", 0x80, 200, 40, 0x1111AAAA)),
        # DNS: a name that is a pointer to itself (a loop), a question cut
        # short, and 3 bytes (less than a header: not DNS, forwarded raw)
        ("192.0.2.53", "192.0.2.1", 40100, 53, struct.pack("!HHHHHH", 0x3001, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"),
        ("192.0.2.53", "192.0.2.1", 40102, 53, struct.pack("!HHHHHH", 0x3003, 0x0100, 1, 0, 0, 0) + b"\x07example\x04te"),
        ("192.0.2.53", "192.0.2.1", 40101, 53, b"\x30\x02\x01"),
    ]
    for s, t, sp, dp, data in bad:
        cap.add(frame(s, t, sp, dp, data))
    media(cap, a, 48000, b, 58000, 2, seq0=3000)
    cap.add(frame(a, b, 5060, 5060, d.request("BYE")))
    cap.add(frame(b, a, 5060, 5060, d.response(200, "OK", "BYE")))
    cap.write(os.path.join(out, "malformed-mixed.pcap"))


def case_damaged(out):
    cap = Capture(600)
    d = Dialog("damaged-1@192.0.2.90", "192.0.2.90", "192.0.2.91")
    call(cap, d, 49000, 59000, n_rtp=10)
    path = os.path.join(out, "malformed-damaged.pcap")
    cap.write(path)
    data = open(path, "rb").read()
    # Cut in the middle of the 20th record (after its header): the reader must
    # report what came before and end with an error, not crash.
    off, n = 24, 0
    while n < 19:
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    with open(path, "wb") as f:
        f.write(data[:off + 16 + 30])


CASES = [case_frag_ipv4, case_frag_ipv6, case_compact, case_reinvite, case_vlan, case_vxlan, case_rtcp_compound, case_dns,
         case_options_register, case_malformed, case_damaged]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for c in CASES:
        c(out)


if __name__ == "__main__":
    main()
