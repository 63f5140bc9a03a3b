#!/usr/bin/python3
"""Real peers for the sample capture besides sipp: a DNS server and client
(SRV then A lookup of the SIP service, answers with name compression) and an
RTCP sender (SR+SDES compound reports and a final BYE between the media
endpoints of the call). Uses Debian's python3-scapy to build the messages and
plain sockets to send them, so the packets cross the loopback for real."""
import socket
import sys
import threading
import time

from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV
from scapy.layers.rtp import RTP  # noqa: F401  (ensures scapy's RTP layer is loaded)
from scapy.packet import Raw


def dns_socket(addr, port):
    # Bound before the client starts, so its first query cannot be lost.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(0.2)
    return s


def dns_server(s, stop):
    while not stop.is_set():
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        q = DNS(data)
        name = q.qd.qname
        if q.qd.qtype == 33:  # SRV
            an = DNSRRSRV(rrname=name, ttl=300, priority=10, weight=60, port=5060, target=b"pbx.sample.test.")
        else:
            an = DNSRR(rrname=name, type="A", ttl=300, rdata="127.0.0.10")
        r = DNS(id=q.id, qr=1, aa=1, rd=q.rd, ra=1, qd=q.qd, an=an)
        s.sendto(bytes(r), peer)


def dns_client(server, port):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind(("127.0.0.20", 0))
    c.settimeout(2)
    for i, (qname, qtype) in enumerate([("_sip._udp.sample.test", "SRV"), ("pbx.sample.test", "A")]):
        c.sendto(bytes(DNS(id=0x1000 + i, rd=1, qd=DNSQR(qname=qname, qtype=qtype))), (server, port))
        c.recvfrom(2048)


def rtcp_compound(ssrc, cname, ts, count, bye=False):
    ntp = int(ts) + 2208988800
    frac = int((ts % 1) * (1 << 32))
    sr = bytes([0x80, 200, 0, 6]) + ssrc.to_bytes(4, "big") + ntp.to_bytes(4, "big") + frac.to_bytes(4, "big")
    sr += (count * 160).to_bytes(4, "big") + count.to_bytes(4, "big") + (count * 160).to_bytes(4, "big")
    item = bytes([1, len(cname)]) + cname
    chunk = ssrc.to_bytes(4, "big") + item + b"\x00"
    chunk += b"\x00" * ((4 - len(chunk) % 4) % 4)
    sdes = bytes([0x81, 202]) + (len(chunk) // 4).to_bytes(2, "big") + chunk
    out = sr + sdes
    if bye:
        out += bytes([0x81, 203, 0, 1]) + ssrc.to_bytes(4, "big")
    return out


def rtcp(local, lport, remote, rport, ssrc, cname, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((local, lport))
    start = time.time()
    n = 0
    while time.time() - start < seconds:
        time.sleep(1.0)
        n += 1
        s.sendto(rtcp_compound(ssrc, cname, time.time(), n * 50), (remote, rport))
    s.sendto(rtcp_compound(ssrc, cname, time.time(), n * 50, bye=True), (remote, rport))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "dns":
        stop = threading.Event()
        t = threading.Thread(target=dns_server, args=(dns_socket("127.0.0.53", 53), stop))
        t.start()
        try:
            dns_client("127.0.0.53", 53)
        finally:
            stop.set()
            t.join()
    elif cmd == "rtcp":
        # rtcp LOCAL LPORT REMOTE RPORT SSRC CNAME SECONDS
        rtcp(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].encode(), float(sys.argv[8]))
