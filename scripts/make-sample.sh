#!/usr/bin/env bash
# Records samples/sip-call.pcap: a real SIP call over loopback between two
# sipp instances (uac -> uas, G.711 RTP both ways: played by the uac, echoed by
# the uas), RTCP reports between the media endpoints, and the DNS lookups
# (SRV, then A) that a caller makes first. Needs root (tcpdump on lo, DNS on
# port 53) and the Debian packages scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-samples/sip-call.pcap}"
mkdir -p "$(dirname "$out")"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

UAS=127.0.0.10 UAC=127.0.0.20
tcpdump -i lo -U -s 0 -w "$work/raw.pcap" "udp and (host $UAS or host $UAC or host 127.0.0.53)" 2>"$work/tcpdump.log" &
pids+=($!)
sleep 1

/usr/bin/python3 scripts/sample/helpers.py dns

# uas answers with its own SDP and echoes RTP back to the caller.
(cd "$work" && sipp -sn uas -i $UAS -p 5060 -mi $UAS -mp 6100 -rtp_echo -bg -trace_err >/dev/null 2>&1) || true
sleep 0.5
/usr/bin/python3 scripts/sample/helpers.py rtcp $UAC 6001 $UAS 6101 287454020 alice@sample.test 4 &
pids+=($!)
/usr/bin/python3 scripts/sample/helpers.py rtcp $UAS 6101 $UAC 6001 2864434397 bob@sample.test 4 &
pids+=($!)
(cd "$work" && sipp $UAS:5060 -sf "$OLDPWD/scripts/sample/uac.xml" -s 1000 -i $UAC -p 5061 -mi $UAC -mp 6000 -m 1 -l 1 -timeout 30 -timeout_error >/dev/null 2>&1)
sleep 1.5
pkill -f "sipp -sn uas -i $UAS" || true
sleep 0.5
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
cp "$work/raw.pcap" "$out"
echo "wrote $out: $(tshark -r "$out" 2>/dev/null | wc -l) packets"
tshark -r "$out" -q -z io,phs 2>/dev/null | sed -n '5,20p'
