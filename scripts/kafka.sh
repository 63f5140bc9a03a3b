#!/usr/bin/env bash
# A real Apache Kafka broker for tests and demos: one KRaft node (broker and
# controller in one JVM) on loopback. The broker's jars come from Maven
# Central through Maven and are cached under .cache/kafka; nothing else is
# downloaded. Every subcommand is idempotent.
#
#   scripts/kafka.sh fetch            download the jars (once)
#   scripts/kafka.sh start            start the broker unless it runs; wait until it serves
#   scripts/kafka.sh stop             stop it (SIGTERM, then SIGKILL after 20 s)
#   scripts/kafka.sh kill             SIGKILL it, as a crash would (data dir kept)
#   scripts/kafka.sh status           "running PID PORT" (exit 0) or "stopped" (exit 3)
#   scripts/kafka.sh destroy          stop and remove the state dir
#
# Environment:
#   KAFKA_PORT       client port on 127.0.0.1 (default 39092); the controller uses PORT+1
#   KAFKA_STATE_DIR  pid file, config, log and data (default ${TMPDIR:-/tmp}/otus-kafka-$KAFKA_PORT)
#   KAFKA_VERSION    org.apache.kafka:kafka_2.13 version (default below)
#   KAFKA_HEAP       JVM heap (default 384m)
# Several brokers may run side by side with different ports and state dirs
# (the test files each start their own).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
PORT="${KAFKA_PORT:-39092}"
CPORT=$((PORT + 1))
STATE="${KAFKA_STATE_DIR:-${TMPDIR:-/tmp}/otus-kafka-$PORT}"
CACHE="$ROOT/.cache/kafka/$KAFKA_VERSION"
LIB="$CACHE/lib"
HEAP="${KAFKA_HEAP:-384m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

need_tools() {
  command -v java >/dev/null || die "java not found (scripts/setup.sh installs default-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found (scripts/setup.sh installs maven)"
}

fetch() {
  [ -f "$LIB/.complete" ] && return 0
  need_tools
  mkdir -p "$CACHE"
  # A throw-away project whose only purpose is to name the broker artifact;
  # Maven resolves its runtime dependencies transitively.
  cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>otus.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- the broker logs through slf4j 1.7; this routes it to the log4j2 it already brings -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
  echo "kafka.sh: fetching Apache Kafka $KAFKA_VERSION through Maven into $LIB" >&2
  rm -rf "$LIB"
  mvn -q -B -f "$CACHE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB" >"$CACHE/fetch.log" 2>&1 ||
    { tail -30 "$CACHE/fetch.log" >&2; die "Maven could not fetch Kafka $KAFKA_VERSION (log: $CACHE/fetch.log)"; }
  touch "$LIB/.complete"
}

pid_alive() { [ -f "$STATE/kafka.pid" ] && kill -0 "$(cat "$STATE/kafka.pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

write_config() {
  mkdir -p "$STATE/data"
  cat >"$STATE/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=100000
EOF
  cat >"$STATE/log4j2.properties" <<EOF
appender.file.type=File
appender.file.name=file
appender.file.fileName=$STATE/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
logger.broker.name=kafka.server.BrokerServer
logger.broker.level=INFO
EOF
}

java_cmd() {
  # Small heap and one GC thread per core: the CI machine has two cores.
  java -Xms64m -Xmx"$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
    -cp "$LIB/*" "$@"
}

start() {
  fetch
  if pid_alive; then
    port_open && { echo "kafka.sh: already running (pid $(cat "$STATE/kafka.pid"), 127.0.0.1:$PORT)"; return 0; }
  else
    rm -f "$STATE/kafka.pid"
    port_open && die "127.0.0.1:$PORT is taken by another process"
    write_config
    if [ ! -f "$STATE/data/meta.properties" ]; then
      # KRaft needs its log directory formatted with a cluster id once.
      local id
      id="$(java_cmd kafka.tools.StorageTool random-uuid 2>>"$STATE/format.log" | tail -1)"
      java_cmd kafka.tools.StorageTool format -t "$id" -c "$STATE/server.properties" >>"$STATE/format.log" 2>&1 ||
        { cat "$STATE/format.log" >&2; die "formatting $STATE/data failed"; }
    fi
    # setsid: the broker outlives the shell that started it, and ignores its terminal.
    setsid bash -c 'exec "$@"' _ java -Xms64m -Xmx"$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
      -cp "$LIB/*" kafka.Kafka "$STATE/server.properties" </dev/null >>"$STATE/stdout.log" 2>&1 &
    echo $! >"$STATE/kafka.pid"
  fi
  # Serving = the client port accepts connections (the broker opens it once
  # the controller quorum and metadata are ready).
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  until port_open; do
    pid_alive || { tail -40 "$STATE/stdout.log" "$STATE/server.log" >&2 2>/dev/null; die "the broker exited while starting (logs in $STATE)"; }
    [ $SECONDS -lt $deadline ] || die "the broker did not open 127.0.0.1:$PORT in time (logs in $STATE)"
    sleep 0.3
  done
  echo "kafka.sh: running (pid $(cat "$STATE/kafka.pid"), 127.0.0.1:$PORT, state $STATE)"
}

stop() {
  pid_alive || { rm -f "$STATE/kafka.pid"; echo "kafka.sh: stopped"; return 0; }
  local pid; pid="$(cat "$STATE/kafka.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$STATE/kafka.pid"
  echo "kafka.sh: stopped"
}

crash() {
  pid_alive || { echo "kafka.sh: stopped"; return 0; }
  local pid; pid="$(cat "$STATE/kafka.pid")"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$STATE/kafka.pid"
  echo "kafka.sh: killed"
}

status() {
  if pid_alive && port_open; then echo "running $(cat "$STATE/kafka.pid") $PORT"; return 0; fi
  if pid_alive; then echo "starting $(cat "$STATE/kafka.pid") $PORT"; return 0; fi
  echo "stopped"; return 3
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill) crash ;;
  status) status ;;
  destroy) stop; rm -rf "$STATE" ;;
  *) echo "usage: $0 fetch|start|stop|kill|status|destroy" >&2; exit 2 ;;
esac
