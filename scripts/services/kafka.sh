#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) for the tests.
#
#   start          fetch Kafka from Maven Central if missing (cached in
#                  .cache/kafka), install kcat if missing, format storage,
#                  start the broker on a free loopback port, wait until it
#                  answers, and print `export GS_TEST_KAFKA_BOOTSTRAP=...`.
#   stop           stop the broker and delete its data.
#   broker-stop    stop the broker process but keep its data and port
#                  (tests use it to take the broker away mid-stream).
#   broker-start   start the same broker again on the same port and data.
#   status         exit 0 when the broker process is alive.
#
# Only `export` lines go to stdout; everything else goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KAFKA_VERSION="${GS_KAFKA_VERSION:-4.1.1}"
CACHE="$ROOT/.cache/kafka"
# Bump DEPS_REV when the dependency list below changes (invalidates the cache).
DEPS_REV=2
LIB="$CACHE/lib-$KAFKA_VERSION-r$DEPS_REV"
RUN="$CACHE/run"
PIDFILE="$RUN/broker.pid"
PORTFILE="$RUN/port"
LOG="$RUN/broker.log"

log() { echo "kafka.sh: $*" >&2; }

fetch_jars() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and dependencies from Maven Central"
  mkdir -p "$CACHE/pom"
  cat > "$CACHE/pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>groundstation.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>2.0.16</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$LIB.tmp"
  mvn -q -B -f "$CACHE/pom/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >&2
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
  touch "$LIB/.complete"
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "not root: cannot apt-get install $*"
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 ||
    { apt-get update -q >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; }
}

ensure_tools() {
  local missing=()
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (Debian packages)"
    apt_install "${missing[@]}" || { log "could not install ${missing[*]}"; exit 1; }
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

write_config() {
  local port="$1" cport="$2"
  cat > "$RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=2
log.segment.bytes=67108864
PROPS
  cat > "$RUN/log4j2.yaml" <<'L4J'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
L4J
}

run_java() {
  java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN/log4j2.yaml" -cp "$LIB/*" "$@"
}

launch() {
  local port
  port="$(cat "$PORTFILE")"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN/log4j2.yaml" -cp "$LIB/*" kafka.Kafka "$RUN/server.properties" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 90))
  until python3 - "$port" <<'PY' 2>/dev/null
import socket, struct, sys
# A ready broker answers an ApiVersions request (key 18, version 0).
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=2)
client = b"ready-probe"
body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
s.sendall(struct.pack(">i", len(body)) + body)
size = struct.unpack(">i", s.recv(4))[0]
data = b""
while len(data) < size:
    data += s.recv(size - len(data))
corr, err = struct.unpack(">ih", data[:6])
sys.exit(0 if corr == 1 and err in (0, 35) else 1)
PY
  do
    if ! alive; then log "broker exited; last log lines:"; tail -n 40 "$LOG" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "broker not ready after 90 s"; tail -n 40 "$LOG" >&2; exit 1; fi
    sleep 0.5
  done
  log "broker ready on 127.0.0.1:$port (pid $(cat "$PIDFILE"))"
}

halt() {
  if alive; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start)
    ensure_tools
    fetch_jars
    if alive; then
      echo "export GS_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$(cat "$PORTFILE")"
      exit 0
    fi
    rm -rf "$RUN"
    mkdir -p "$RUN/data"
    port="$(free_port)"
    cport="$(free_port)"
    while [ "$cport" = "$port" ]; do cport="$(free_port)"; done
    echo "$port" >"$PORTFILE"
    write_config "$port" "$cport"
    cluster_id="$(run_java kafka.tools.StorageTool random-uuid 2>>"$LOG" | tail -n 1)"
    run_java kafka.tools.StorageTool format -t "$cluster_id" -c "$RUN/server.properties" \
      >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; exit 1; }
    launch
    echo "export GS_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$port"
    ;;
  stop)
    halt
    rm -rf "$RUN"
    ;;
  broker-stop)
    halt
    ;;
  broker-start)
    [ -f "$RUN/server.properties" ] || { log "no broker was started (run start first)"; exit 1; }
    if ! alive; then launch; fi
    ;;
  status)
    alive
    ;;
  *)
    echo "usage: $0 start|stop|broker-stop|broker-start|status" >&2
    exit 2
    ;;
esac
