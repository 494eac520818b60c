#!/usr/bin/env bash
# A single-node OpenStack Swift with the s3api middleware on 127.0.0.1, for S3 integration
# tests (it checks SigV4 signatures and behaves like AWS for multipart uploads).
#
#   start-swift-s3.sh start PORT [BUCKET...]   starts (idempotent) and creates the buckets
#   start-swift-s3.sh check PORT               exits 0 if the servers are up
#   start-swift-s3.sh stop PORT                stops the servers; the data stays
#   start-swift-s3.sh clean PORT               stops the servers and removes the data
#
# Ports: the S3 endpoint is http://127.0.0.1:PORT; object/container/account servers use
# PORT+1..PORT+3 and memcached PORT+4. State lives in $SR2_SWIFT_DIR (default
# /tmp/sr2-swift-PORT), with the server PIDs in its `pids` file.
# Credentials: access key "test:tester", secret "testing", region us-east-1.
set -euo pipefail

usage() {
  echo "usage: $0 start|check|stop|clean PORT [BUCKET...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
ACTION=$1
PORT=$2
shift 2
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65530 ] || usage
BASE=${SR2_SWIFT_DIR:-/tmp/sr2-swift-$PORT}
PIDS="$BASE/pids"
OBJECT_PORT=$((PORT + 1))
CONTAINER_PORT=$((PORT + 2))
ACCOUNT_PORT=$((PORT + 3))
MEMCACHED_PORT=$((PORT + 4))

# Swift's scripts need Debian's python3 (a pyenv python3 in PATH lacks its modules).
for tool in /usr/bin/swift-proxy-server /usr/bin/swift-ring-builder /usr/bin/memcached; do
  if [ ! -x "$tool" ] && [ "$ACTION" = start ]; then
    echo "start-swift-s3: $tool is missing; run scripts/install-deps.sh" >&2
    exit 3
  fi
done

stop_servers() {
  [ -f "$PIDS" ] || return 0
  local pids=()
  while read -r pid; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
  done < "$PIDS"
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  fi
  rm -f "$PIDS"
}

port_answers() {
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/")" != 000 ]
}

all_up() {
  for p in $OBJECT_PORT $CONTAINER_PORT $ACCOUNT_PORT; do port_answers "$p" || return 1; done
  curl -sf -m 2 "http://127.0.0.1:$PORT/healthcheck" >/dev/null 2>&1
}

# All recorded servers alive and answering: nothing to do.
running() {
  [ -f "$PIDS" ] || return 1
  [ "$(wc -l < "$PIDS")" -eq 5 ] || return 1
  while read -r pid; do kill -0 "$pid" 2>/dev/null || return 1; done < "$PIDS"
  all_up
}

write_configs() {
  mkdir -p "$BASE/etc" "$BASE/srv/d1" "$BASE/log"
  local n p
  for t in object:$OBJECT_PORT container:$CONTAINER_PORT account:$ACCOUNT_PORT; do
    n=${t%%:*}
    p=${t##*:}
    if [ ! -f "$BASE/etc/$n.ring.gz" ]; then
      (
        cd "$BASE/etc"
        swift-ring-builder "$n.builder" create 6 1 1 >/dev/null
        swift-ring-builder "$n.builder" add "r1z1-127.0.0.1:$p/d1" 1 >/dev/null
        swift-ring-builder "$n.builder" rebalance >/dev/null || true
      )
    fi
    cat > "$BASE/etc/$n-server.conf" <<CONF
[DEFAULT]
devices = $BASE/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $p
workers = 0
user = $(id -un)
swift_dir = $BASE/etc
log_level = WARNING
[pipeline:main]
pipeline = $n-server
[app:$n-server]
use = egg:swift#$n
CONF
  done
  cat > "$BASE/etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 0
user = $(id -un)
swift_dir = $BASE/etc
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
}

create_buckets() {
  local bucket code
  for bucket in "$@"; do
    # Credentials go in the URL: curl's --user would split "test:tester" at its colon.
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 aws:amz:us-east-1:s3 \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
      "http://test%3Atester:testing@127.0.0.1:$PORT/$bucket")
    # 409 BucketAlreadyOwnedByYou: already there.
    if [ "$code" != 200 ] && [ "$code" != 409 ]; then
      echo "start-swift-s3: creating bucket $bucket failed with HTTP $code" >&2
      exit 1
    fi
  done
}

start_servers() {
  if running; then
    create_buckets "$@"
    echo "swift-s3 already up on 127.0.0.1:$PORT"
    return 0
  fi
  stop_servers
  write_configs
  : > "$PIDS"
  memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -u "$(id -un)" -m 64 \
    > "$BASE/log/memcached.log" 2>&1 < /dev/null &
  echo $! >> "$PIDS"
  for n in object container account proxy; do
    nohup "/usr/bin/swift-$n-server" "$BASE/etc/$n-server.conf" > "$BASE/log/$n.log" 2>&1 \
      < /dev/null &
    echo $! >> "$PIDS"
  done
  # The proxy answers its healthcheck before the storage servers listen: wait for all four.
  for _ in $(seq 1 150); do
    if all_up; then
      create_buckets "$@"
      echo "swift-s3 up on 127.0.0.1:$PORT"
      return 0
    fi
    sleep 0.2
  done
  echo "start-swift-s3: servers did not come up; logs in $BASE/log" >&2
  stop_servers
  exit 1
}

case "$ACTION" in
  start) start_servers "$@" ;;
  check) running ;;
  stop) stop_servers ;;
  clean)
    stop_servers
    rm -rf "$BASE"
    ;;
  *) usage ;;
esac
