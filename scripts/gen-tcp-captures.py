#!/usr/bin/python3
"""Generates the captures of the TCP reassembly tests (test/reassembly).

Usage: /usr/bin/python3 scripts/gen-tcp-captures.py OUTDIR

Deterministic (fixed addresses, sequence numbers, times; no randomness), so
two runs write identical files. Each capture exercises one thing the
reassembler and the stream parsers must get right; the tests compare what
Otus reports with what tshark reports with its own TCP reassembly on.

  sip-tcp-clean       SIP calls over one TCP connection: messages split over
                      many segments, several messages in one segment, CRLF
                      keep-alives; SDP offers/answers and the RTP they announce
  sip-tcp-ooo         the same with segments out of order
  sip-tcp-retrans     ... with retransmitted and overlapping segments
  sip-tcp-loss        ... with one segment lost in the middle of a message
                      (the next message starts at a segment boundary)
  sip-tcp-long        a long SIP/TCP trunk (many calls); sip-tcp-long-mid is
                      the same capture started in the middle of the session,
                      its first packet carrying the tail of a message
  sip-ws              SIP over WebSocket: HTTP upgrade, masked client frames,
                      a fragmented message with a ping between its fragments,
                      pong, close; sip-ws-mid starts mid-session
  http                HTTP/1.1 keep-alive with pipelining, chunked bodies,
                      HEAD, 304, and a body sent in many segments
  dns-tcp             DNS over TCP: two queries in one segment, a response
                      whose length prefix and body are in different segments

CUTS.json gives, for each *-mid capture, the number of frames of the full
capture that precede it.
"""
import json
import os
import struct
import sys

from scapy.config import conf

conf.verb = 0
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.utils import wrpcap  # noqa: E402

BASE = 1767225600.0  # 2026-01-01T00:00:00Z
CRLF = b"\r\n"


class Capture:
    """Frames with their times, in capture order."""

    def __init__(self):
        self.frames = []
        self.t = BASE

    def add(self, pkt, dt=0.01):
        self.t += dt
        pkt.time = round(self.t, 6)
        self.frames.append(pkt)

    def write(self, path, frames=None):
        wrpcap(path, frames if frames is not None else self.frames)


class Conn:
    """One TCP connection; builds segments (not yet added to a capture)."""

    def __init__(self, cap, cip, cport, sip, sport, cisn, sisn):
        self.cap = cap
        self.ep = [(cip, cport), (sip, sport)]
        self.seq = [cisn, sisn]

    def pkt(self, d, flags, seq, payload=b""):
        (si, sp), (di, dp) = self.ep[d], self.ep[1 - d]
        p = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(src=si, dst=di, ttl=64) / TCP(
            sport=sp, dport=dp, flags=flags, seq=seq & 0xFFFFFFFF, ack=self.seq[1 - d] & 0xFFFFFFFF, window=65535
        )
        if payload:
            p = p / Raw(payload)
        return p

    def handshake(self):
        self.cap.add(self.pkt(0, "S", self.seq[0]))
        self.seq[0] += 1
        self.cap.add(self.pkt(1, "SA", self.seq[1]))
        self.seq[1] += 1
        self.cap.add(self.pkt(0, "A", self.seq[0]))

    def segments(self, d, data, size):
        """data cut into segments of `size` bytes: [(seq, bytes)], advancing the sequence number."""
        out = []
        for i in range(0, len(data), size):
            out.append((self.seq[d] + i, data[i : i + size]))
        self.seq[d] += len(data)
        return out

    def emit(self, d, segs, dt=0.01):
        for seq, b in segs:
            self.cap.add(self.pkt(d, "PA", seq, b), dt)

    def send(self, d, data, size=1400, dt=0.01):
        self.emit(d, self.segments(d, data, size), dt)

    def close(self):
        self.cap.add(self.pkt(0, "FA", self.seq[0]))
        self.seq[0] += 1
        self.cap.add(self.pkt(1, "FA", self.seq[1]))
        self.seq[1] += 1
        self.cap.add(self.pkt(0, "A", self.seq[0]))


# ---------------------------------------------------------------- SIP

C_IP, S_IP = "10.7.0.1", "10.7.0.2"


def sip_msg(start, headers, body=b""):
    h = start + CRLF + b"".join(k + b": " + v + CRLF for k, v in headers)
    return h + b"Content-Length: %d" % len(body) + CRLF + CRLF + body


def sdp(ip, port, sess):
    return (
        b"v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        % (sess, ip.encode(), ip.encode(), port)
    )


def call_msgs(n, transport=b"TCP", pad=0):
    """The messages of call n: [(direction, bytes)]; 0 = client to server."""
    cid = b"call-%d-7f3a@%s" % (n, C_IP.encode())
    frm = b"<sip:alice@example.com>;tag=a%d" % n
    to = b"<sip:bob@example.com>"
    to_t = to + b";tag=b%d" % n
    via = b"SIP/2.0/%s %s:5060;branch=z9hG4bK-%d" % (transport, C_IP.encode(), n)
    common = lambda t, cseq, m: [(b"Via", via), (b"From", frm), (b"To", t), (b"Call-ID", cid), (b"CSeq", b"%d %s" % (cseq, m))]
    ua = [(b"User-Agent", b"otus-gen/1.0"), (b"X-Pad", b"p" * pad)] if pad else [(b"User-Agent", b"otus-gen/1.0")]
    inv = sip_msg(b"INVITE sip:bob@example.com SIP/2.0", common(to, 1, b"INVITE") + [(b"Contact", b"<sip:alice@%s>" % C_IP.encode()), (b"Content-Type", b"application/sdp")] + ua, sdp(C_IP, 40000 + 2 * n, n))
    return [
        (0, inv),
        (1, sip_msg(b"SIP/2.0 100 Trying", common(to, 1, b"INVITE"))),
        (1, sip_msg(b"SIP/2.0 180 Ringing", common(to_t, 1, b"INVITE"))),
        (1, sip_msg(b"SIP/2.0 200 OK", common(to_t, 1, b"INVITE") + [(b"Content-Type", b"application/sdp")], sdp(S_IP, 50000 + 2 * n, 1000 + n))),
        (0, sip_msg(b"ACK sip:bob@%s SIP/2.0" % S_IP.encode(), common(to_t, 1, b"ACK"))),
        ("rtp", n),
        (0, sip_msg(b"BYE sip:bob@%s SIP/2.0" % S_IP.encode(), common(to_t, 2, b"BYE") + ua)),
        (1, sip_msg(b"SIP/2.0 200 OK", common(to_t, 2, b"BYE"))),
    ]


def rtp_packets(cap, n, count=3):
    for i in range(count):
        for src, sport, dst, dport, ssrc in ((C_IP, 40000 + 2 * n, S_IP, 50000 + 2 * n, 0x1000 + n), (S_IP, 50000 + 2 * n, C_IP, 40000 + 2 * n, 0x2000 + n)):
            rtp = struct.pack("!BBHII", 0x80, 0, 100 + i, 160 * i, ssrc) + b"\xff" * 160
            cap.add(Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(src=src, dst=dst, ttl=64) / UDP(sport=sport, dport=dport) / Raw(rtp), 0.02)


def sip_tcp(impair, calls=3, cport=41001):
    """SIP calls over one connection; impair(conn, d, segs, msg_index) may reorder/duplicate/drop segments."""
    cap = Capture()
    c = Conn(cap, C_IP, cport, S_IP, 5060, 1000000, 4000000000)  # the server's sequence numbers wrap
    c.handshake()
    k = 0
    for n in range(calls):
        msgs = call_msgs(n)
        i = 0
        while i < len(msgs):
            d, m = msgs[i]
            if d == "rtp":
                rtp_packets(cap, m)
                i += 1
                continue
            # 100 and 180 travel together in one segment (several messages per segment).
            if i + 1 < len(msgs) and m.startswith(b"SIP/2.0 100"):
                m = m + msgs[i + 1][1]
                i += 1
            # a CRLF CRLF keep-alive before the BYE (RFC 5626)
            if m.startswith(b"BYE"):
                c.send(0, CRLF + CRLF)
            segs = c.segments(d, m, 200 if m.startswith((b"INVITE", b"SIP/2.0 200 OK")) and b"application/sdp" in m else 1400)
            c.emit(d, impair(c, d, segs, k) if impair else segs)
            if impair is loss and k == 0:
                cap.t += 6  # longer than gap_timeout: the hole is skipped on time, not at the end
            k += 1
            i += 1
    c.close()
    return cap


def ooo(c, d, segs, k):
    # Swap the 2nd and 3rd segment of the multi-segment messages.
    if len(segs) >= 3:
        segs = [segs[0], segs[2], segs[1]] + segs[3:]
    return segs


def retrans(c, d, segs, k):
    if len(segs) >= 3:
        (s0, b0), (s1, b1), (s2, b2) = segs[:3]
        # a retransmission of segment 1, and a segment overlapping 1 and 2 (same bytes)
        overlap = (s1 + 100, b1[100:] + b2[:50])
        return [segs[0], segs[1], (s1, b1), overlap, segs[2]] + segs[3:]
    if k % 4 == 1:
        return segs + segs  # a whole small message sent twice
    return segs


def loss(c, d, segs, k):
    # Lose the middle segment of the first INVITE's SDP part: that message is lost, the rest are not.
    if k == 0 and len(segs) >= 3:
        return [segs[0]] + segs[2:]
    return segs


def sip_long(out):
    """A long trunk: many calls, each message in up to 3 segments; the -mid file starts at the tail of a message."""
    cap = Capture()
    c = Conn(cap, C_IP, 41005, S_IP, 5060, 2000000, 3000000)
    c.handshake()
    cut = None
    for n in range(12):
        for d, m in call_msgs(n, pad=300):
            if d == "rtp":
                rtp_packets(cap, m, 1)
                continue
            segs = c.segments(d, m, (len(m) + 2) // 3)
            if n == 5 and m.startswith(b"INVITE"):
                c.emit(d, segs[:2])
                cut = len(cap.frames)  # the -mid capture starts with the INVITE's last segment
                c.emit(d, segs[2:])
            else:
                c.emit(d, segs)
    c.close()
    cap.write(os.path.join(out, "sip-tcp-long.pcap"))
    cap.write(os.path.join(out, "sip-tcp-long-mid.pcap"), cap.frames[cut:])
    return cut


# ---------------------------------------------------------------- WebSocket

def ws_frame(payload, opcode=1, fin=True, mask=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        h += mask
        payload = bytes(x ^ mask[i & 3] for i, x in enumerate(payload))
    return h + payload


def sip_ws(out):
    cap = Capture()
    c = Conn(cap, C_IP, 41010, S_IP, 8088, 5000000, 6000000)
    c.handshake()
    c.send(0, b"GET /ws HTTP/1.1\r\nHost: %s:8088\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n" % S_IP.encode())
    c.send(1, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    cut = None
    for n in range(8):
        for j, (d, m) in enumerate(call_msgs(n, b"WS")):
            if d == "rtp":
                rtp_packets(cap, m, 1)
                continue
            mask = bytes([0x11 + n, 0x22 + j, 0x33, 0x44]) if d == 0 else None
            if n == 1 and m.startswith(b"INVITE"):
                # a fragmented message, a ping between its fragments, and the pong
                h = len(m) // 2
                c.send(0, ws_frame(m[:h], 1, False, mask))
                c.send(0, ws_frame(b"ping!", 9, True, mask))
                c.send(1, ws_frame(b"ping!", 10, True))
                c.send(0, ws_frame(m[h:], 0, True, mask))
                continue
            f = ws_frame(m, 1, True, mask)
            if n == 4 and m.startswith(b"INVITE"):
                segs = c.segments(d, f, (len(f) + 1) // 2)
                c.emit(d, segs[:1])
                cut = len(cap.frames)  # the -mid capture starts with the frame's second half
                c.emit(d, segs[1:])
            else:
                c.send(d, f, 700)
    c.send(0, ws_frame(struct.pack("!H", 1000), 8, True, b"\x01\x02\x03\x04"))
    c.send(1, ws_frame(struct.pack("!H", 1000), 8, True))
    c.close()
    cap.write(os.path.join(out, "sip-ws.pcap"))
    cap.write(os.path.join(out, "sip-ws-mid.pcap"), cap.frames[cut:])
    return cut


# ---------------------------------------------------------------- HTTP

def http(out):
    cap = Capture()
    c = Conn(cap, "10.8.0.1", 42001, "10.8.0.2", 80, 7000000, 8000000)
    c.handshake()
    H = b"Host: www.example.com\r\n"
    # two pipelined requests in one segment
    c.send(0, b"GET /index.html HTTP/1.1\r\n" + H + b"\r\n" + b"GET /about.html HTTP/1.1\r\n" + H + b"\r\n")
    body = b"<html>" + b"x" * 3000 + b"</html>"
    c.send(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body, 1000)
    c.send(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<p>about</p>\n")
    c.send(0, b"HEAD /logo.png HTTP/1.1\r\n" + H + b"\r\n")
    c.send(1, b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n")  # HEAD: no body
    # POST with a body in two segments, answered with a chunked body split everywhere
    post = b'{"k":"' + b"v" * 500 + b'"}'
    c.send(0, b"POST /api/items?x=1 HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(post) + post, 300)
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    for part in (b"a" * 100, b"b" * 2000, b"c" * 7):
        chunked += b"%x\r\n" % len(part) + part + b"\r\n"
    chunked += b"0\r\nX-Trailer: yes\r\n\r\n"
    c.send(1, chunked, 333)
    c.send(0, b"GET /cached.css HTTP/1.1\r\n" + H + b"If-None-Match: \"abc\"\r\n\r\n")
    c.send(1, b"HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n")
    c.close()
    # a second connection on 8080, the response without length: its body runs to the close
    c2 = Conn(cap, "10.8.0.1", 42002, "10.8.0.3", 8080, 100, 200)
    c2.handshake()
    c2.send(0, b"GET /stream HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: close\r\n\r\n")
    c2.send(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + b"z" * 2500, 1000)
    c2.cap.add(c2.pkt(1, "FA", c2.seq[1]))
    c2.seq[1] += 1
    c2.cap.add(c2.pkt(0, "FA", c2.seq[0]))
    cap.write(os.path.join(out, "http.pcap"))


# ---------------------------------------------------------------- DNS over TCP

def dns_q(qid, name, qtype):
    q = b"".join(bytes([len(l)]) + l for l in name.split(b".")) + b"\x00" + struct.pack("!HH", qtype, 1)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q


def dns_r(qid, name, qtype, rdata):
    q = b"".join(bytes([len(l)]) + l for l in name.split(b".")) + b"\x00" + struct.pack("!HH", qtype, 1)
    a = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + a


def dns_tcp(out):
    cap = Capture()
    c = Conn(cap, "10.9.0.1", 43001, "10.9.0.53", 53, 9000, 9900000)
    c.handshake()
    q1 = dns_q(0x1234, b"sip.example.com", 1)
    q2 = dns_q(0x1235, b"_sip._tcp.example.com", 33)
    framed = lambda m: struct.pack("!H", len(m)) + m
    c.send(0, framed(q1) + framed(q2))  # two queries in one segment
    r1 = framed(dns_r(0x1234, b"sip.example.com", 1, bytes([10, 9, 0, 80])))
    c.send(1, r1[:2])  # the length prefix alone
    c.send(1, r1[2:])
    srv = struct.pack("!HHH", 10, 60, 5060) + b"\x03sip\x07example\x03com\x00"
    r2 = framed(dns_r(0x1235, b"_sip._tcp.example.com", 33, srv))
    c.send(1, r2, 20)  # many small segments
    c.close()
    cap.write(os.path.join(out, "dns-tcp.pcap"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sip_tcp(None).write(os.path.join(out, "sip-tcp-clean.pcap"))
    sip_tcp(ooo).write(os.path.join(out, "sip-tcp-ooo.pcap"))
    sip_tcp(retrans).write(os.path.join(out, "sip-tcp-retrans.pcap"))
    sip_tcp(loss).write(os.path.join(out, "sip-tcp-loss.pcap"))
    cuts = {"sip-tcp-long-mid": sip_long(out), "sip-ws-mid": sip_ws(out)}
    http(out)
    dns_tcp(out)
    with open(os.path.join(out, "CUTS.json"), "w") as f:
        json.dump(cuts, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
