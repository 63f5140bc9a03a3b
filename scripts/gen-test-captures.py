#!/usr/bin/python3
"""Generates the captures of the L2-L4 decoder's differential test (tshark).

Usage: /usr/bin/python3 scripts/gen-test-captures.py OUTDIR

Deterministic: every address, port, id, sequence number, timestamp and payload
byte is fixed (random is seeded and only shuffles), so two runs write
byte-identical files. Packets are built with scapy (Debian's python3-scapy;
run it with /usr/bin/python3), files are written by the small pcap / pcapng
writers below so that caplen, wire length, timestamp resolution, link type and
pcapng interfaces are exactly what each case needs.

Each case goes to its own file, named by case (CASE.pcap or CASE.pcapng), and
a few multi-case files mix them (multi-*.pcap, multi-*.pcapng). A manifest,
MANIFEST.txt, lists the files with a one-line description each.

Conventions that make layer mix-ups visible in the comparison: outer and inner
headers never share addresses or TTLs (outer TTLs are 200-250, inner 30-99).
Payloads are printable ASCII that no Otus parser (SIP, RTP, RTCP, DNS, HTTP)
claims, on ports no tshark dissector claims, so every packet stays `raw`.
"""
import os
import random
import struct
import sys

from scapy.config import conf

conf.verb = 0
from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_Router_Alert, IPOption_RR  # noqa: E402
from scapy.layers.inet6 import IPv6, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6DestUnreach, ICMPv6ND_NS  # noqa: E402
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether, GRE  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III  # noqa: E402
from scapy.contrib.geneve import GENEVE, GeneveOptions  # noqa: E402

BASE_SEC = 1767225600  # 2026-01-01T00:00:00Z

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
MAC_C = "02:00:00:00:00:0c"
MAC_D = "02:00:00:00:00:0d"

# LINKTYPE_* numbers
LT_NULL, LT_ETH, LT_RAW, LT_SLL, LT_IPV4, LT_IPV6, LT_SLL2 = 0, 1, 101, 113, 228, 229, 276


def text(n, tag):
    """n bytes of printable, deterministic payload (never looks like RTP/SIP/DNS/HTTP)."""
    unit = ("otus-%s-" % tag).encode()
    out = bytearray()
    i = 0
    while len(out) < n:
        out += unit + b"%05d|" % i
        i += 1
    return bytes(out[:n])


def b(pkt):
    return raw(pkt)


# --------------------------------------------------------------------------
# L3 / L4 builders


def ip4(src, dst, ttl, **kw):
    kw.setdefault("id", 0x1000)
    return IP(src=src, dst=dst, ttl=ttl, **kw)


def udp4(src, dst, sport, dport, n, tag, ttl=64, **kw):
    return ip4(src, dst, ttl, **kw) / UDP(sport=sport, dport=dport) / text(n, tag)


def tcp4(src, dst, sport, dport, n, tag, ttl=64, flags="PA", seq=1000, ack=5000, options=None, **kw):
    t = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack if "A" in flags else 0, window=8192,
            options=options or [])
    p = ip4(src, dst, ttl, **kw) / t
    return p / text(n, tag) if n else p


def ip6(src, dst, hlim, nh=None):
    p = IPv6(src=src, dst=dst, hlim=hlim)
    if nh is not None:
        p.nh = nh
    return p


def udp6(src, dst, sport, dport, n, tag, hlim=64):
    return ip6(src, dst, hlim) / UDP(sport=sport, dport=dport) / text(n, tag)


def tcp6(src, dst, sport, dport, n, tag, hlim=64, flags="PA", seq=7000, ack=9000):
    p = ip6(src, dst, hlim) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack if "A" in flags else 0,
                                  window=4096)
    return p / text(n, tag) if n else p


# IPv6 extension headers, built by hand (nh is filled in by chain6)
def ext_hbh():
    # router alert (05 02 0000) + PadN(2)
    return 0, lambda nh: bytes([nh, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00])


def ext_dst(n8=1):
    # n8 * 8 bytes: PadN filling everything after the 2-byte header
    pad = n8 * 8 - 2
    return 60, lambda nh: bytes([nh, n8 - 1, 0x01, pad - 2]) + bytes(pad - 2)


def ext_srh(final_dst):
    # Segment Routing Header (type 4), segments left 0: the final destination is the header's.
    from socket import AF_INET6, inet_pton
    seg = inet_pton(AF_INET6, final_dst)
    return 43, lambda nh: bytes([nh, 2, 4, 0, 0, 0, 0, 0]) + seg


def ext_ah(spi=0x1234, seq=7):
    # AH: 12-byte header + 12-byte ICV, payload length = 24/4 - 2 = 4
    return 51, lambda nh: bytes([nh, 4, 0, 0]) + struct.pack(">II", spi, seq) + bytes(range(0xa0, 0xac))


def ext_frag(offset, more, ident):
    return 44, lambda nh: bytes([nh, 0]) + struct.pack(">HI", (offset << 3) | (1 if more else 0), ident)


def chain6(src, dst, hlim, exts, l4pkt, l4proto):
    """IPv6 header + extension headers (list of (type, builder)) + upper layer (checksummed)."""
    l4 = b(IPv6(src=src, dst=dst) / l4pkt)[40:]
    body = b""
    nxt = l4proto
    for typ, build in reversed(exts):
        body = build(nxt) + body
        nxt = typ
    return b(IPv6(src=src, dst=dst, hlim=hlim, nh=nxt, plen=len(body) + len(l4))) + body + l4


# --------------------------------------------------------------------------
# L2 wrappers


def eth(l3, src=MAC_A, dst=MAC_B):
    l3 = l3 if isinstance(l3, bytes) else b(l3)
    et = 0x0800 if l3[0] >> 4 == 4 else 0x86DD
    return struct.pack(">6s6sH", mac(dst), mac(src), et) + l3


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def vlan_eth(l3, tags, src=MAC_A, dst=MAC_B):
    """tags: list of (tpid, vid) outermost first."""
    l3 = l3 if isinstance(l3, bytes) else b(l3)
    et = 0x0800 if l3[0] >> 4 == 4 else 0x86DD
    out = struct.pack(">6s6s", mac(dst), mac(src))
    for tpid, vid in tags:
        out += struct.pack(">HH", tpid, vid)  # PCP 0, DEI 0
    return out + struct.pack(">H", et) + l3


def sll(l3, pkttype=0):
    l3 = l3 if isinstance(l3, bytes) else b(l3)
    et = 0x0800 if l3[0] >> 4 == 4 else 0x86DD
    return struct.pack(">HHH8sH", pkttype, 1, 6, mac(MAC_C) + b"\0\0", et) + l3


def sll2(l3, ifindex=3, pkttype=4):
    l3 = l3 if isinstance(l3, bytes) else b(l3)
    et = 0x0800 if l3[0] >> 4 == 4 else 0x86DD
    return struct.pack(">HHIHBB8s", et, 0, ifindex, 1, pkttype, 6, mac(MAC_D) + b"\0\0") + l3


def null(l3, af=None):
    l3 = l3 if isinstance(l3, bytes) else b(l3)
    if af is None:
        af = 2 if l3[0] >> 4 == 4 else 30
    return struct.pack("<I", af) + l3  # host byte order (little-endian writer)


def rawip(l3):
    return l3 if isinstance(l3, bytes) else b(l3)


# --------------------------------------------------------------------------
# Fragmentation (by hand, so the pieces are exactly what the case needs)


def frag4(pkt, size):
    """IPv4 fragments of a complete IPv4 packet (scapy), payload pieces of `size` (multiple of 8)."""
    whole = b(pkt)
    ihl = (whole[0] & 15) * 4
    hdr = IP(whole[:ihl])
    data = whole[ihl:]
    out = []
    for off in range(0, len(data), size):
        piece = data[off:off + size]
        more = off + size < len(data)
        f = IP(src=hdr.src, dst=hdr.dst, ttl=hdr.ttl, id=hdr.id, proto=hdr.proto, tos=hdr.tos,
               flags="MF" if more else 0, frag=off // 8)
        out.append(b(f / piece))
    return out


def frag6(src, dst, hlim, ident, l4pkt, l4proto, size, unfrag_exts=(), frag_exts=()):
    """IPv6 fragments: unfragmentable ext headers + Fragment header + fragmentable part pieces."""
    whole = chain6(src, dst, hlim, list(frag_exts), l4pkt, l4proto)
    fragmentable = whole[40:]
    first_nh = whole[6]
    out = []
    for off in range(0, len(fragmentable), size):
        piece = fragmentable[off:off + size]
        more = off + size < len(fragmentable)
        # unfragmentable headers, then the Fragment header whose nh is the fragmentable part's first header
        _, fbuild = ext_frag(off // 8, more, ident)
        chain = fbuild(first_nh)
        nxt = 44
        for typ, build in reversed(list(unfrag_exts)):
            chain = build(nxt) + chain
            nxt = typ
        body = chain + piece
        out.append(b(IPv6(src=src, dst=dst, hlim=hlim, nh=nxt, plen=len(body))) + body)
    return out


# --------------------------------------------------------------------------
# Cases. A case is a list of (linktype, frame bytes, wire length or None).


def E(frames):
    return [(LT_ETH, f, None) for f in frames]


def case_eth_ipv4_udp():
    return E([
        eth(udp4("10.1.0.1", "10.1.0.2", 40001, 40002, 120, "v4udp", ttl=64)),
        eth(udp4("10.1.0.2", "10.1.0.1", 40002, 40001, 1, "v4udp", ttl=63, id=0x1001)),
        eth(udp4("10.1.0.1", "10.1.0.2", 40001, 40002, 0, "v4udp", ttl=62, id=0x1002, flags="DF")),
        eth(udp4("10.1.0.3", "10.1.0.4", 33333, 44444, 1472, "v4udp", ttl=1, id=0x1003)),
    ])


def case_eth_ipv4_tcp():
    c, s = ("10.2.0.1", 41000), ("10.2.0.2", 42000)
    seq_c, seq_s = 100000, 900000
    pk = [
        tcp4(c[0], s[0], c[1], s[1], 0, "t", ttl=64, flags="S", seq=seq_c,
             options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]),
        tcp4(s[0], c[0], s[1], c[1], 0, "t", ttl=60, flags="SA", seq=seq_s, ack=seq_c + 1,
             options=[("MSS", 1400), ("NOP", None), ("NOP", None), ("SAckOK", b"")]),
        tcp4(c[0], s[0], c[1], s[1], 0, "t", ttl=64, flags="A", seq=seq_c + 1, ack=seq_s + 1),
        tcp4(c[0], s[0], c[1], s[1], 300, "tcpA", ttl=64, seq=seq_c + 1, ack=seq_s + 1,
             options=[("NOP", None), ("NOP", None), ("Timestamp", (2, 1))]),
        # next segment sent twice out of order: 1000 bytes at +301+500 first, then +301
        tcp4(c[0], s[0], c[1], s[1], 1000, "tcpC", ttl=64, seq=seq_c + 801, ack=seq_s + 1),
        tcp4(c[0], s[0], c[1], s[1], 500, "tcpB", ttl=64, seq=seq_c + 301, ack=seq_s + 1),
        tcp4(c[0], s[0], c[1], s[1], 500, "tcpB", ttl=64, seq=seq_c + 301, ack=seq_s + 1),  # retransmission
        tcp4(s[0], c[0], s[1], c[1], 0, "t", ttl=60, flags="A", seq=seq_s + 1, ack=seq_c + 1801,
             options=[("SAck", (seq_c + 301, seq_c + 801))]),
        tcp4(s[0], c[0], s[1], c[1], 1460, "tcpS", ttl=60, seq=seq_s + 1, ack=seq_c + 1801),
        tcp4(c[0], s[0], c[1], s[1], 0, "t", ttl=64, flags="FA", seq=seq_c + 1801, ack=seq_s + 1461),
        tcp4(s[0], c[0], s[1], c[1], 0, "t", ttl=60, flags="FA", seq=seq_s + 1461, ack=seq_c + 1802),
        tcp4(c[0], s[0], c[1], s[1], 0, "t", ttl=64, flags="A", seq=seq_c + 1802, ack=seq_s + 1462),
        tcp4(c[0], s[0], c[1], s[1], 0, "t", ttl=64, flags="R", seq=seq_c + 1802),
    ]
    return E([eth(p) for p in pk])


def case_eth_ipv4_options():
    return E([
        eth(ip4("10.3.0.1", "10.3.0.2", 55, options=[IPOption_Router_Alert()]) /
            UDP(sport=45000, dport=45001) / text(64, "opt-ra")),
        eth(ip4("10.3.0.1", "10.3.0.2", 54, options=[IPOption_RR(routers=["10.9.9.1", "10.9.9.2", "0.0.0.0"]),
                                                      IPOption_NOP()]) /
            TCP(sport=45002, dport=45003, flags="PA", seq=1, ack=1) / text(77, "opt-rr")),
        # maximal IHL (60-byte header: 40 bytes of options)
        eth(ip4("10.3.0.3", "10.3.0.4", 53, options=[IPOption_RR(routers=["0.0.0.0"] * 9), IPOption_NOP()]) /
            UDP(sport=45004, dport=45005) / text(10, "opt-max")),
    ])


def case_eth_ipv6_udp():
    return E([
        eth(udp6("2001:db8:1::1", "2001:db8:1::2", 46000, 46001, 200, "v6udp", hlim=64)),
        eth(udp6("2001:db8:1::2", "2001:db8:1::1", 46001, 46000, 0, "v6udp", hlim=255)),
        eth(udp6("fe80::1", "ff02::1:2", 46546, 46547, 33, "v6udp", hlim=1)),
    ])


def case_eth_ipv6_tcp():
    a, z = "2001:db8:2::a", "2001:db8:2::b"
    return E([
        eth(tcp6(a, z, 47000, 47001, 0, "t", hlim=64, flags="S", seq=1)),
        eth(tcp6(z, a, 47001, 47000, 0, "t", hlim=58, flags="SA", seq=10, ack=2)),
        eth(tcp6(a, z, 47000, 47001, 1200, "v6tcp", hlim=64, seq=2, ack=11)),
        eth(tcp6(z, a, 47001, 47000, 0, "t", hlim=58, flags="A", seq=11, ack=1202)),
    ])


def case_eth_ipv6_exthdrs():
    a, z = "2001:db8:3::1", "2001:db8:3::2"
    u = lambda n, tag: UDP(sport=48000, dport=48001) / text(n, tag)  # noqa: E731
    t = lambda n, tag: TCP(sport=48002, dport=48003, flags="PA", seq=5, ack=6) / text(n, tag)  # noqa: E731
    return E([
        eth(chain6(a, z, 61, [ext_hbh()], u(40, "hbh"), 17)),
        eth(chain6(a, z, 62, [ext_srh(z)], t(41, "rh"), 6)),
        eth(chain6(a, z, 63, [ext_dst(2)], u(42, "dst"), 17)),
        eth(chain6(a, z, 64, [ext_ah()], t(43, "ah-tcp"), 6)),
        eth(chain6(a, z, 65, [ext_ah(0x5678, 8)], u(44, "ah-udp"), 17)),
        eth(chain6(a, z, 66, [ext_hbh(), ext_dst(1), ext_srh(z), ext_ah(), ext_dst(3)], u(45, "chain"), 17)),
        eth(chain6(a, z, 67, [ext_hbh(), ext_ah()], t(0, "chain-empty"), 6)),
    ])


def case_eth_icmp():
    orig = b(udp4("10.4.0.2", "10.4.0.9", 49000, 49001, 20, "icmp-orig", ttl=3))
    return E([
        eth(ip4("10.4.0.1", "10.4.0.2", 64) / ICMP(type=8, id=0x77, seq=1) / text(56, "ping")),
        eth(ip4("10.4.0.2", "10.4.0.1", 61, id=0x2000) / ICMP(type=0, id=0x77, seq=1) / text(56, "ping")),
        eth(ip4("10.4.0.9", "10.4.0.2", 250, id=0x2001) / ICMP(type=3, code=3) / orig[:28]),
        eth(ip4("10.4.0.5", "10.4.0.2", 249, id=0x2002) / ICMP(type=11, code=0) / orig[:48]),
    ])


def case_eth_icmpv6():
    a, z = "2001:db8:4::1", "2001:db8:4::2"
    orig = b(udp6(a, "2001:db8:4::99", 49100, 49101, 30, "icmp6-orig", hlim=9))
    return E([
        eth(ip6(a, z, 64) / ICMPv6EchoRequest(id=0x55, seq=3, data=text(32, "ping6"))),
        eth(ip6(z, a, 60) / ICMPv6EchoReply(id=0x55, seq=3, data=text(32, "ping6"))),
        eth(ip6(a, "ff02::1:ff00:2", 255) / ICMPv6ND_NS(tgt=z)),
        eth(ip6(z, a, 251) / ICMPv6DestUnreach(code=4) / orig),
    ])


def case_eth_vlan():
    return E([
        vlan_eth(udp4("10.5.0.1", "10.5.0.2", 50000, 50001, 100, "vlan", ttl=44), [(0x8100, 100)]),
        vlan_eth(tcp6("2001:db8:5::1", "2001:db8:5::2", 50002, 50003, 50, "vlan6", hlim=43), [(0x8100, 4094)]),
        vlan_eth(udp4("10.5.0.3", "10.5.0.4", 50004, 50005, 10, "vlan0", ttl=42), [(0x8100, 0x2000 | 7)]),  # PCP 1
    ])


def case_eth_qinq():
    return E([
        vlan_eth(udp4("10.6.0.1", "10.6.0.2", 51000, 51001, 90, "qinq", ttl=41), [(0x88A8, 200), (0x8100, 300)]),
        vlan_eth(tcp6("2001:db8:6::1", "2001:db8:6::2", 51002, 51003, 91, "qinq6", hlim=40),
                 [(0x88A8, 1), (0x8100, 2)]),
    ])


def case_eth_vlan_triple():
    return E([
        vlan_eth(udp4("10.7.0.1", "10.7.0.2", 52000, 52001, 80, "triple", ttl=39),
                 [(0x88A8, 10), (0x8100, 20), (0x8100, 30)]),
    ])


def case_vxlan():
    inner = Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.10.1", "192.168.10.2", 53000, 53001, 150, "vxlan", ttl=31)
    inner_t = Ether(src=MAC_C, dst=MAC_D) / tcp4("192.168.10.2", "192.168.10.1", 53002, 53003, 151, "vxlan-t", ttl=32)
    inner6 = Ether(src=MAC_C, dst=MAC_D) / udp6("fd00:10::1", "fd00:10::2", 53004, 53005, 152, "vxlan-6", hlim=33)
    return E([
        eth(ip4("172.16.0.1", "172.16.0.2", 250) / UDP(sport=61000, dport=4789) / VXLAN(vni=4242) / inner),
        eth(ip4("172.16.0.2", "172.16.0.1", 249) / UDP(sport=61001, dport=4789) / VXLAN(vni=16777215) / inner_t),
        eth(ip6("2001:db8:f::1", "2001:db8:f::2", 248) / UDP(sport=61002, dport=4789) / VXLAN(vni=1) / inner6),
    ])


def case_vxlan_inner_vlan():
    inner = Ether(src=MAC_C, dst=MAC_D) / Dot1Q(vlan=77) / udp4("192.168.11.1", "192.168.11.2", 53100, 53101, 60,
                                                                 "vxlan-vlan", ttl=34)
    return E([
        vlan_eth(ip4("172.16.1.1", "172.16.1.2", 247) / UDP(sport=61100, dport=4789) / VXLAN(vni=77) / inner,
                 [(0x8100, 5)]),
    ])


def case_geneve():
    opt = GeneveOptions(classid=0x0102, type=0x80, data=b"\x01\x02\x03\x04\x05\x06\x07\x08")
    inner = Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.20.1", "192.168.20.2", 54000, 54001, 140, "geneve", ttl=35)
    return E([
        eth(ip4("172.17.0.1", "172.17.0.2", 246) / UDP(sport=62000, dport=6081) /
            GENEVE(vni=0xABCDE, proto=0x6558, options=[opt]) / inner),
        # Geneve carrying IPv4 directly (protocol type = EtherType 0x0800), no options
        eth(ip4("172.17.0.2", "172.17.0.1", 245) / UDP(sport=62001, dport=6081) /
            GENEVE(vni=5, proto=0x0800) / tcp4("192.168.20.2", "192.168.20.1", 54002, 54003, 141, "geneve-ip", ttl=36)),
    ])


def case_gre_nokey():
    return E([
        eth(ip4("172.18.0.1", "172.18.0.2", 244, proto=47) / GRE(proto=0x0800) /
            udp4("192.168.30.1", "192.168.30.2", 55000, 55001, 130, "gre", ttl=37)),
        eth(ip4("172.18.0.2", "172.18.0.1", 243, proto=47) / GRE(proto=0x86DD) /
            tcp6("fd00:30::1", "fd00:30::2", 55002, 55003, 131, "gre6", hlim=38)),
    ])


def case_gre_key():
    return E([
        eth(ip4("172.19.0.1", "172.19.0.2", 242, proto=47) /
            GRE(chksum_present=1, key_present=1, seqnum_present=1, key=0xDEADBEEF, sequence_number=17, proto=0x0800) /
            tcp4("192.168.40.1", "192.168.40.2", 56000, 56001, 120, "grek", ttl=39)),
        eth(ip4("172.19.0.2", "172.19.0.1", 241, proto=47) / GRE(key_present=1, key=1000, proto=0x0800) /
            udp4("192.168.40.2", "192.168.40.1", 56002, 56003, 121, "grek2", ttl=40)),
        # key + transparent Ethernet bridging (NVGRE style)
        eth(ip4("172.19.0.3", "172.19.0.4", 240, proto=47) / GRE(key_present=1, key=0x00012300, proto=0x6558) /
            Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.40.3", "192.168.40.4", 56004, 56005, 122, "nvgre", ttl=41)),
    ])


def case_erspan_ii():
    inner = Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.50.1", "192.168.50.2", 57000, 57001, 110, "erspan2", ttl=42)
    inner_v = Ether(src=MAC_C, dst=MAC_D) / Dot1Q(vlan=12) / tcp4("192.168.50.2", "192.168.50.1", 57002, 57003, 111,
                                                                   "erspan2v", ttl=43)
    return E([
        eth(ip4("172.20.0.1", "172.20.0.2", 239, proto=47) / GRE(seqnum_present=1, sequence_number=1, proto=0x88BE) /
            ERSPAN_II(ver=1, session_id=77, index=5) / inner),
        eth(ip4("172.20.0.1", "172.20.0.2", 239, proto=47, id=0x1001) /
            GRE(seqnum_present=1, sequence_number=2, proto=0x88BE) /
            ERSPAN_II(ver=1, session_id=1023, vlan=12, en=3) / inner_v),
    ])


def case_erspan_iii():
    inner = Ether(src=MAC_C, dst=MAC_D) / tcp6("fd00:60::1", "fd00:60::2", 58000, 58001, 100, "erspan3", hlim=44)
    inner4 = Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.60.1", "192.168.60.2", 58002, 58003, 101, "erspan3b", ttl=45)
    return E([
        eth(ip4("172.21.0.1", "172.21.0.2", 238, proto=47) / GRE(seqnum_present=1, sequence_number=9, proto=0x22EB) /
            ERSPAN_III(session_id=300, timestamp=0x11223344, hw=1) / inner),
        eth(ip4("172.21.0.1", "172.21.0.2", 238, proto=47, id=0x1001) /
            GRE(seqnum_present=1, sequence_number=10, proto=0x22EB) /
            ERSPAN_III(session_id=5, timestamp=0x11223345, d=1) / inner4),
    ])


def case_ipip_4in4():
    return E([
        eth(ip4("172.22.0.1", "172.22.0.2", 237, proto=4) / udp4("192.168.70.1", "192.168.70.2", 59000, 59001, 90,
                                                                 "4in4", ttl=46)),
        eth(ip4("172.22.0.2", "172.22.0.1", 236, proto=4) / tcp4("192.168.70.2", "192.168.70.1", 59002, 59003, 91,
                                                                 "4in4t", ttl=47)),
    ])


def case_ipip_6in4():
    return E([
        eth(ip4("172.23.0.1", "172.23.0.2", 235, proto=41) / tcp6("fd00:80::1", "fd00:80::2", 59100, 59101, 92,
                                                                  "6in4", hlim=48)),
        eth(ip4("172.23.0.2", "172.23.0.1", 234, proto=41) / udp6("fd00:80::2", "fd00:80::1", 59102, 59103, 93,
                                                                  "6in4u", hlim=49)),
    ])


def case_ipip_4in6():
    return E([
        eth(ip6("2001:db8:90::1", "2001:db8:90::2", 233, nh=4) / udp4("192.168.90.1", "192.168.90.2", 59200, 59201, 94,
                                                                      "4in6", ttl=50)),
        eth(ip6("2001:db8:90::2", "2001:db8:90::1", 232, nh=41) / udp6("fd00:90::2", "fd00:90::1", 59202, 59203, 95,
                                                                       "6in6", hlim=51)),
    ])


def shuffle_with_dup(frags, seed, dup_index, last):
    """Shuffled order (fixed seed) with fragment `dup_index` delivered twice; fragment `last` comes last."""
    rnd = random.Random(seed)
    order = [i for i in range(len(frags)) if i != last] + [dup_index]
    rnd.shuffle(order)
    return [frags[i] for i in order + [last]]


def case_ipv4_frag():
    dgram = udp4("10.8.0.1", "10.8.0.2", 60000, 60001, 3000, "frag4", ttl=52, id=0x4242)
    frags = frag4(dgram, 800)  # 4 fragments: 800, 800, 800, 608 bytes of IP payload
    assert len(frags) == 4
    # out of order, fragment 1 twice, completion by fragment 2
    return E([eth(f) for f in shuffle_with_dup(frags, 1, 1, 2)])


def case_ipv4_frag_interleaved():
    d1 = udp4("10.8.1.1", "10.8.1.2", 60100, 60101, 2500, "frag4a", ttl=53, id=0x0101)
    d2 = tcp4("10.8.1.1", "10.8.1.2", 60102, 60103, 2999, "frag4b", ttl=54, id=0x0102)
    f1, f2 = frag4(d1, 1008), frag4(d2, 1480)
    seq = [f1[2], f2[1], f1[0], f2[0], f2[1], f1[1], f2[2]]
    # duplicate of an already reassembled fragment after completion, then a plain packet
    seq += [f1[0], b(udp4("10.8.1.1", "10.8.1.2", 60100, 60101, 20, "after", ttl=53, id=0x0103))]
    return E([eth(f) for f in seq])


def case_ipv6_frag():
    a, z = "2001:db8:a::1", "2001:db8:a::2"
    frags = frag6(a, z, 55, 0xCAFE0001, UDP(sport=60200, dport=60201) / text(3000, "frag6"), 17, 1232)
    assert len(frags) == 3
    return E([eth(f) for f in shuffle_with_dup(frags, 2, 0, 1)])


def case_ipv6_frag_exthdr():
    a, z = "2001:db8:b::1", "2001:db8:b::2"
    frags = frag6(a, z, 56, 0x00000777, TCP(sport=60300, dport=60301, flags="PA", seq=1, ack=1) / text(2000, "frag6x"),
                  6, 776, unfrag_exts=[ext_hbh()], frag_exts=[ext_dst(1)])
    assert len(frags) == 3
    return E([eth(f) for f in shuffle_with_dup(frags, 3, 2, 0)])


def case_gre_inner_frag():
    """An IPv4 datagram fragmented inside a GRE tunnel (each fragment in its own GRE packet), last piece first."""
    d = udp4("192.168.41.1", "192.168.41.2", 56100, 56101, 2000, "gre-frag", ttl=38, id=0x0BAD)
    frags = frag4(d, 1200)
    assert len(frags) == 2
    outer = lambda i, f: eth(ip4("172.19.1.1", "172.19.1.2", 230, proto=47, id=0x2000 + i) /  # noqa: E731
                             GRE(key_present=1, key=4242, proto=0x0800) / f)
    return E([outer(0, frags[1]), outer(1, frags[0])])


def case_truncated():
    """Snaplen 96: frames cut after their L4 headers (caplen < wire length)."""
    snap = 96
    inner = Ether(src=MAC_C, dst=MAC_D) / udp4("192.168.100.1", "192.168.100.2", 61500, 61501, 400, "trunc-vx", ttl=57)
    full = [
        eth(udp4("10.9.0.1", "10.9.0.2", 61000, 61001, 1000, "trunc-u", ttl=64)),
        eth(tcp4("10.9.0.1", "10.9.0.2", 61002, 61003, 1400, "trunc-t", ttl=64)),
        eth(udp6("2001:db8:c::1", "2001:db8:c::2", 61004, 61005, 500, "trunc-6", hlim=64)),
        eth(ip4("172.24.0.1", "172.24.0.2", 231) / UDP(sport=61006, dport=4789) / VXLAN(vni=99) / inner),
        eth(udp4("10.9.0.1", "10.9.0.2", 61000, 61001, 30, "trunc-short", ttl=64)),  # shorter than snaplen
    ]
    return [(LT_ETH, f[:snap], len(f)) for f in full]


def case_eth_padding():
    def pad60(f):
        return f + bytes(60 - len(f)) if len(f) < 60 else f
    return E([
        pad60(eth(udp4("10.10.0.1", "10.10.0.2", 62000, 62001, 2, "p", ttl=64))),
        pad60(eth(udp4("10.10.0.1", "10.10.0.2", 62000, 62001, 0, "p", ttl=64, id=0x1001))),
        pad60(eth(tcp4("10.10.0.2", "10.10.0.1", 62002, 62003, 0, "p", ttl=64, flags="A"))),
        pad60(eth(tcp4("10.10.0.2", "10.10.0.1", 62002, 62003, 5, "p", ttl=64))),
        pad60(eth(ip4("10.10.0.3", "10.10.0.4", 64) / ICMP(type=8, id=1, seq=1) / b"ab")),
        # padding that is not zero (some switches leave garbage)
        eth(udp4("10.10.0.5", "10.10.0.6", 62004, 62005, 3, "p", ttl=64)) + b"\xde\xad\xbe\xef" * 4,
        pad60(vlan_eth(udp4("10.10.0.7", "10.10.0.8", 62006, 62007, 1, "p", ttl=64), [(0x8100, 9)])),
    ])


def l3_mix(tag):
    """A few plain IP packets (v4 and v6) for the link-type cases."""
    return [
        udp4("10.11.0.1", "10.11.0.2", 63000, 63001, 70, tag + "-u4", ttl=60),
        tcp4("10.11.0.2", "10.11.0.1", 63002, 63003, 71, tag + "-t4", ttl=59),
        udp6("2001:db8:d::1", "2001:db8:d::2", 63004, 63005, 72, tag + "-u6", hlim=58),
        tcp6("2001:db8:d::2", "2001:db8:d::1", 63006, 63007, 73, tag + "-t6", hlim=57),
    ]


def case_linktype_sll():
    return [(LT_SLL, sll(p, pkttype=i % 5), None) for i, p in enumerate(l3_mix("sll"))]


def case_linktype_sll2():
    return [(LT_SLL2, sll2(p, ifindex=7, pkttype=i % 5), None) for i, p in enumerate(l3_mix("sll2"))]


def case_linktype_raw():
    return [(LT_RAW, rawip(p), None) for p in l3_mix("raw")]


def case_linktype_ipv4():
    return [(LT_IPV4, rawip(p), None) for p in l3_mix("ipv4") if p.version == 4]


def case_linktype_ipv6():
    return [(LT_IPV6, rawip(p), None) for p in l3_mix("ipv6") if p.version == 6]


def case_linktype_null():
    m = l3_mix("null")
    ipv6_more = [udp6("2001:db8:e::1", "2001:db8:e::2", 63100, 63101, 74 + i, "null-af%d" % af, hlim=56)
                 for i, af in enumerate((24, 28))]
    frames = [null(p) for p in m] + [null(p, af) for p, af in zip(ipv6_more, (24, 28))]
    return [(LT_NULL, f, None) for f in frames]


# name -> (builder, file kind). Kind: "usec" / "nsec" pcap, or "pcapng".
CASES = {
    "eth-ipv4-udp": (case_eth_ipv4_udp, "usec"),
    "eth-ipv4-tcp-segments": (case_eth_ipv4_tcp, "nsec"),
    "eth-ipv4-options": (case_eth_ipv4_options, "usec"),
    "eth-ipv6-udp": (case_eth_ipv6_udp, "nsec"),
    "eth-ipv6-tcp": (case_eth_ipv6_tcp, "usec"),
    "eth-ipv6-exthdrs": (case_eth_ipv6_exthdrs, "nsec"),
    "eth-icmp": (case_eth_icmp, "usec"),
    "eth-icmpv6": (case_eth_icmpv6, "nsec"),
    "eth-vlan": (case_eth_vlan, "usec"),
    "eth-qinq": (case_eth_qinq, "nsec"),
    "eth-vlan-triple": (case_eth_vlan_triple, "usec"),
    "vxlan": (case_vxlan, "nsec"),
    "vxlan-inner-vlan": (case_vxlan_inner_vlan, "usec"),
    "geneve": (case_geneve, "nsec"),
    "gre-nokey": (case_gre_nokey, "usec"),
    "gre-key": (case_gre_key, "nsec"),
    "erspan-ii": (case_erspan_ii, "usec"),
    "erspan-iii": (case_erspan_iii, "nsec"),
    "ipip-4in4": (case_ipip_4in4, "usec"),
    "ipip-6in4": (case_ipip_6in4, "nsec"),
    "ipip-4in6": (case_ipip_4in6, "usec"),
    "ipv4-frag": (case_ipv4_frag, "nsec"),
    "ipv4-frag-interleaved": (case_ipv4_frag_interleaved, "usec"),
    "ipv6-frag": (case_ipv6_frag, "usec"),
    "ipv6-frag-exthdr": (case_ipv6_frag_exthdr, "nsec"),
    "gre-inner-frag": (case_gre_inner_frag, "usec"),
    "truncated-snaplen96": (case_truncated, "usec"),
    "eth-padding": (case_eth_padding, "nsec"),
    "linktype-null": (case_linktype_null, "usec"),
    "linktype-sll": (case_linktype_sll, "nsec"),
    "linktype-sll2": (case_linktype_sll2, "usec"),
    "linktype-raw": (case_linktype_raw, "nsec"),
    "linktype-ipv4": (case_linktype_ipv4, "usec"),
    "linktype-ipv6": (case_linktype_ipv6, "nsec"),
}


# --------------------------------------------------------------------------
# Writers


def timestamps(n, file_index, nsec):
    """Deterministic timestamps: 1 ms apart, with sub-microsecond digits in nanosecond files."""
    out = []
    for i in range(n):
        ns = (i * 1_000_000 + 123_456_000 + (789 if nsec else 0) + (i * 7 if nsec else 0))
        out.append((BASE_SEC + file_index * 60 + ns // 1_000_000_000, ns % 1_000_000_000))
    return out


def write_pcap(path, frames, nsec, file_index, snaplen=262144):
    linktypes = {lt for lt, _, _ in frames}
    assert len(linktypes) == 1, path
    lt = linktypes.pop()
    out = bytearray(struct.pack("<IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, lt))
    for (lt_, data, wire), (sec, ns) in zip(frames, timestamps(len(frames), file_index, nsec)):
        out += struct.pack("<IIII", sec, ns if nsec else ns // 1000, len(data), wire or len(data)) + data
    with open(path, "wb") as f:
        f.write(out)


def pad4(x):
    return x + bytes(-len(x) % 4)


def ng_block(typ, body):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack("<II", typ, n) + body + struct.pack("<I", n)


def ng_opt(code, value):
    return struct.pack("<HH", code, len(value)) + pad4(value)


def write_pcapng(path, frames_by_if, interfaces, file_index):
    """interfaces: list of (linktype, tsresol exponent or None (= 6), name);
    frames_by_if: list of (if index, (linktype, data, wire))."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + ng_opt(4, b"otus gen-test-captures.py") + ng_opt(0, b"")
    out = bytearray(ng_block(0x0A0D0D0A, shb))
    for lt, res, name in interfaces:
        opts = ng_opt(2, name.encode())
        if res is not None:
            opts += ng_opt(9, bytes([res]))
        opts += ng_opt(0, b"")
        out += ng_block(1, struct.pack("<HHI", lt, 0, 262144) + opts)
    ts = timestamps(len(frames_by_if), file_index, True)
    for (ifi, (lt, data, wire)), (sec, ns) in zip(frames_by_if, ts):
        assert interfaces[ifi][0] == lt
        res = interfaces[ifi][1]
        units = sec * 10 ** (res if res is not None else 6) + ns // 10 ** (9 - (res if res is not None else 6))
        body = struct.pack("<IIIII", ifi, units >> 32, units & 0xFFFFFFFF, len(data), wire or len(data)) + data
        out += ng_block(6, body)
    with open(path, "wb") as f:
        f.write(out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen-test-captures.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    manifest = []
    built = {}
    for idx, (name, (fn, kind)) in enumerate(CASES.items()):
        frames = fn()
        built[name] = frames
        path = os.path.join(outdir, name + ".pcap")
        snap = 96 if name.startswith("truncated") else 262144
        write_pcap(path, frames, kind == "nsec", idx, snaplen=snap)
        manifest.append("%s.pcap\t%s pcap, %d frames: %s" % (name, kind, len(frames), (fn.__doc__ or name).strip()))

    base = len(CASES)
    # multi-case 1: every Ethernet case (truncated excepted) in one nanosecond pcap
    eth_names = [n for n, fr in built.items() if all(lt == LT_ETH for lt, _, _ in fr) and not n.startswith("trunc")]
    frames = [f for n in eth_names for f in built[n]]
    write_pcap(os.path.join(outdir, "multi-ethernet-nsec.pcap"), frames, True, base + 1)
    manifest.append("multi-ethernet-nsec.pcap\tnsec pcap, %d frames: %s" % (len(frames), ", ".join(eth_names)))

    # multi-case 2: tunnels only, microsecond pcap
    tun = ["vxlan", "geneve", "gre-nokey", "gre-key", "erspan-ii", "erspan-iii", "ipip-4in4", "ipip-6in4",
           "ipip-4in6", "vxlan-inner-vlan", "gre-inner-frag"]
    frames = [f for n in tun for f in built[n]]
    write_pcap(os.path.join(outdir, "multi-tunnels-usec.pcap"), frames, False, base + 2)
    manifest.append("multi-tunnels-usec.pcap\tusec pcap, %d frames: %s" % (len(frames), ", ".join(tun)))

    # multi-case 3: pcapng, one interface per link type, frames interleaved
    interfaces = [(LT_ETH, None, "eth0"), (LT_RAW, 9, "tun0"), (LT_SLL2, None, "any"), (LT_NULL, 3, "lo0"),
                  (LT_IPV4, 6, "ipv4if"), (LT_IPV6, 9, "ipv6if"), (LT_SLL, None, "cooked")]
    per_if = [
        built["eth-vlan"] + built["vxlan"] + built["ipv4-frag"] + built["gre-key"],
        built["linktype-raw"],
        built["linktype-sll2"],
        built["linktype-null"],
        built["linktype-ipv4"],
        built["linktype-ipv6"],
        built["linktype-sll"],
    ]
    seq = []
    pos = [0] * len(per_if)
    while any(pos[i] < len(per_if[i]) for i in range(len(per_if))):
        for i in range(len(per_if)):
            if pos[i] < len(per_if[i]):
                seq.append((i, per_if[i][pos[i]]))
                pos[i] += 1
    write_pcapng(os.path.join(outdir, "multi-linktypes.pcapng"), seq, interfaces, base + 3)
    manifest.append("multi-linktypes.pcapng\tpcapng, %d interfaces (%s), %d frames" %
                    (len(interfaces), ", ".join("%s=%d" % (n, lt) for lt, _, n in interfaces), len(seq)))

    # multi-case 4: a single-interface pcapng (Ethernet, nanosecond resolution) with fragments and tunnels
    names = ["eth-ipv6-exthdrs", "ipv6-frag", "erspan-iii", "eth-qinq", "eth-padding"]
    seq = [(0, f) for n in names for f in built[n]]
    write_pcapng(os.path.join(outdir, "multi-eth.pcapng"), seq, [(LT_ETH, 9, "eth1")], base + 4)
    manifest.append("multi-eth.pcapng\tpcapng, 1 interface (nanosecond), %d frames: %s" % (len(seq), ", ".join(names)))

    with open(os.path.join(outdir, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
