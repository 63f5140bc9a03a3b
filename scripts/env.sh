# Sourced by the project's scripts: puts the project's Node.js 24 first on PATH
# when scripts/setup.sh had to install it (the machine's own node is older).
OTUS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$OTUS_ROOT/.tools/node/bin/node" ]; then
  PATH="$OTUS_ROOT/.tools/node/bin:$PATH"
fi
export OTUS_ROOT PATH
