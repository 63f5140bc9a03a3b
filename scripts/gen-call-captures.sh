#!/usr/bin/env bash
# Writes the captures of the SIP/RTP/RTCP/DNS end-to-end tests into OUTDIR
# (default test/captures/generated-calls):
#   sipp-calls.pcap   real calls recorded by tcpdump on loopback: three sipp
#                     uac/uas pairs calling at the same time (each pair on its
#                     own addresses, G.711 RTP played by the uac and echoed by
#                     the uas), a fourth pair making two calls one after the
#                     other on the same media ports, RTCP compound reports
#                     between the media endpoints of the first call, and the
#                     DNS lookups (SRV, then A) a caller makes first;
#   the scapy cases of scripts/gen-call-captures.py (fragmented INVITEs over
#   IPv4 and IPv6, compact headers, a re-INVITE moving media, VLAN, VXLAN,
#   RTCP compound packets, DNS compression, OPTIONS/REGISTER, malformed).
# MANIFEST.txt is written last: its presence means the set is complete.
# Needs root (tcpdump on lo, a DNS server on port 53) and the Debian packages
# scripts/setup.sh installs (tcpdump, sip-tester, python3-scapy).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-test/captures/generated-calls}"
mkdir -p "$out"
rm -f "$out/MANIFEST.txt"
work="$(mktemp -d)"
pids=()
uas_pids=()
cleanup() {
  for p in "${pids[@]}" "${uas_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Pair N: uac 127.0.1.N -> uas 127.0.2.N. Media: uac 6000, uas 6100.
PAIRS=(1 2 3 4)
tcpdump -i lo -U -s 0 -w "$work/raw.pcap" "udp and (net 127.0.1.0/24 or net 127.0.2.0/24 or host 127.0.0.53)" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
# tcpdump says "listening on lo" once its socket is open
for _ in $(seq 1 50); do grep -q listening "$work/tcpdump.log" 2>/dev/null && break; sleep 0.1; done

/usr/bin/python3 scripts/sample/helpers.py dns

for n in "${PAIRS[@]}"; do
  mkdir -p "$work/uas$n"
  (cd "$work/uas$n" && exec sipp -sn uas -i 127.0.2.$n -p 5060 -mi 127.0.2.$n -mp 6100 -rtp_echo -nostdin >/dev/null 2>&1) &
  uas_pids+=($!)
done
sleep 0.5
# RTCP of pair 1's call (SR+SDES every second, a final SR+SDES+BYE), both ways.
/usr/bin/python3 scripts/sample/helpers.py rtcp 127.0.1.1 6001 127.0.2.1 6101 16909060 alice@calls.test 2 &
pids+=($!)
/usr/bin/python3 scripts/sample/helpers.py rtcp 127.0.2.1 6101 127.0.1.1 6001 84281096 bob@calls.test 2 &
pids+=($!)
uacs=()
for n in 1 2 3; do
  mkdir -p "$work/uac$n"
  (cd "$work/uac$n" && exec sipp 127.0.2.$n:5060 -sf "$OLDPWD/scripts/sample/uac.xml" -s 100$n -i 127.0.1.$n -p 5060 -mi 127.0.1.$n -mp 6000 \
    -m 1 -l 1 -timeout 30 -timeout_error -nostdin >/dev/null 2>&1) &
  uacs+=($!)
done
# Pair 4: two calls in a row (-l 1: never two at once), same media ports.
mkdir -p "$work/uac4"
(cd "$work/uac4" && exec sipp 127.0.2.4:5060 -sf "$OLDPWD/scripts/sample/uac.xml" -s 1004 -i 127.0.1.4 -p 5060 -mi 127.0.1.4 -mp 6000 \
  -m 2 -l 1 -timeout 30 -timeout_error -nostdin >/dev/null 2>&1) &
uacs+=($!)
status=0
for p in "${uacs[@]}"; do wait "$p" || status=1; done
for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
sleep 0.5
for p in "${uas_pids[@]}"; do kill "$p" 2>/dev/null || true; done
uas_pids=()
sleep 0.3
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
if [ "$status" -ne 0 ]; then
  echo "gen-call-captures: a sipp call failed" >&2
  exit 1
fi
cp "$work/raw.pcap" "$out/sipp-calls.pcap"

/usr/bin/python3 scripts/gen-call-captures.py "$out"

{
  echo "# written by scripts/gen-call-captures.sh; regenerated when missing"
  for f in "$out"/*.pcap; do echo "$(basename "$f") $(stat -c %s "$f")"; done
} >"$out/MANIFEST.txt"
echo "wrote $(ls "$out"/*.pcap | wc -l) captures to $out"
