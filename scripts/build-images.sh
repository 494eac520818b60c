#!/usr/bin/env bash
# Builds the sr2-coordinator and sr2-worker-cpu images and smoke-tests them, on a machine with
# no image registry (docs/operations.md, "Images"). Not part of CI: the builds compile sr2 from
# scratch and take a long time on few cores.
#
# What it does (needs root):
#   1. installs docker.io and debootstrap if missing and starts a private dockerd
#      (no bridge, no iptables changes; builds and runs use --network host);
#   2. if debian:bookworm / debian:bookworm-slim are not present, debootstraps a minbase
#      bookworm from the machine's Debian mirror and imports it under both names;
#   3. builds docker/coordinator.Dockerfile and docker/worker-cpu.Dockerfile;
#   4. smoke test: `--help` of both images, then a coordinator container on 127.0.0.1:PORT,
#      `sr2ctl list` against it from the host build (SR2CTL) and from inside the image, and,
#      when the stories260K model is there, a worker container and an RTN job run end to end;
#      stops all.
#
# Settings: IMAGES="coordinator worker-cpu" (what to build), TAG (0.1.0), BUILD_JOBS (2),
# PORT (17070), SR2CTL (build/bin/sr2ctl), DOCKER_DIR (/tmp/sr2-docker: daemon state),
# MODEL (../shared/models/stories260K), TOKENS (../shared/data/tinystories/calib.tokens.i32).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-"coordinator worker-cpu"}
TAG=${TAG:-0.1.0}
BUILD_JOBS=${BUILD_JOBS:-2}
PORT=${PORT:-17070}
SR2CTL=${SR2CTL:-build/bin/sr2ctl}
DOCKER_DIR=${DOCKER_DIR:-/tmp/sr2-docker}
MODEL=${MODEL:-../shared/models/stories260K}
TOKENS=${TOKENS:-../shared/data/tinystories/calib.tokens.i32}

log() { echo "build-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (dockerd and debootstrap)"

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 1. a private docker daemon ---------------------------------------------------------------
mkdir -p "$DOCKER_DIR"
export DOCKER_HOST="unix://$DOCKER_DIR/docker.sock"
started_dockerd=""
containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
    # dockerd leaves its default network namespace mounted.
    umount "$DOCKER_DIR/exec/netns/default" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (state in $DOCKER_DIR, log $DOCKER_DIR/dockerd.log)"
  dockerd --bridge=none --iptables=false --ip6tables=false \
    --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
    -H "$DOCKER_HOST" --pidfile "$DOCKER_DIR/dockerd.pid" >"$DOCKER_DIR/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || die "dockerd did not start; see $DOCKER_DIR/dockerd.log"
fi

# --- 2. Debian base images without a registry ---------------------------------------------------
if ! docker image inspect debian:bookworm >/dev/null 2>&1 ||
   ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs="$DOCKER_DIR/rootfs-bookworm"
  rm -rf "$rootfs"
  log "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$DOCKER_DIR/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $DOCKER_DIR/debootstrap.log"
  # Same environment the official images set; the docker.io/library names make FROM resolve
  # locally instead of pulling.
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - debian:bookworm >/dev/null
  docker tag debian:bookworm debian:bookworm-slim
  rm -rf "$rootfs"
fi

# --- 3. images ----------------------------------------------------------------------------------
for image in $IMAGES; do
  log "building sr2-$image:$TAG (log $DOCKER_DIR/build-$image.log)"
  start=$(date +%s)
  DOCKER_BUILDKIT=0 docker build --network host --build-arg BUILD_JOBS="$BUILD_JOBS" \
    -f "docker/$image.Dockerfile" -t "sr2-$image:$TAG" . >"$DOCKER_DIR/build-$image.log" 2>&1 ||
    { tail -30 "$DOCKER_DIR/build-$image.log" >&2; die "building sr2-$image failed"; }
  log "built sr2-$image:$TAG in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "sr2-$image:$TAG" | awk '{printf "%.0f MB", $1 / 1e6}')"
done

# --- 4. smoke test ------------------------------------------------------------------------------
has_image() { docker image inspect "sr2-$1:$TAG" >/dev/null 2>&1; }
for image in coordinator worker-cpu; do
  has_image "$image" || continue
  # absl's --help exits 1; what matters is that the binary loads and prints its flags.
  help=$(docker run --rm "sr2-$image:$TAG" --help 2>&1 || true)
  grep -q -- "--coordinator\|--listen" <<<"$help" || { echo "$help" >&2; die "sr2-$image --help failed"; }
  log "sr2-$image --help: ok"
done

has_image coordinator || exit 0
smoke="$DOCKER_DIR/smoke"
rm -rf "$smoke" && mkdir -p "$smoke" && chmod 777 "$smoke"   # the containers run as uid 10001
# The coordinator inspects the model and the workers read it, so both see the same paths.
mounts=(-v "$smoke:/smoke")
run_job=""
if has_image worker-cpu && [ -d "$MODEL" ] && [ -f "$TOKENS" ]; then
  run_job=1
  mounts+=(-v "$(cd "$MODEL" && pwd):/model:ro")
  mounts+=(-v "$(cd "$(dirname "$TOKENS")" && pwd)/$(basename "$TOKENS"):/calib.tokens.i32:ro")
fi
docker run -d --name sr2-smoke-coordinator --network host "${mounts[@]}" \
  "sr2-coordinator:$TAG" --listen "127.0.0.1:$PORT" --state-dir /smoke/state --store /smoke/store \
  >/dev/null
containers+=(sr2-smoke-coordinator)
in_image_ctl() {
  docker run --rm --network host -v "$smoke:/smoke" --entrypoint sr2ctl "sr2-coordinator:$TAG" "$@"
}
if [ -x "$SR2CTL" ]; then
  ctl() { "$SR2CTL" "$@"; }
else
  log "no host sr2ctl at $SR2CTL (set SR2CTL); using the image's sr2ctl only"
  ctl() { in_image_ctl "$@"; }
fi
listed=""
for _ in $(seq 1 40); do
  if out=$(ctl --coordinator "127.0.0.1:$PORT" list 2>&1); then listed=1; break; fi
  sleep 0.5
done
[ -n "$listed" ] || { echo "$out" >&2; docker logs sr2-smoke-coordinator >&2; die "sr2ctl list against the coordinator container failed"; }
log "sr2ctl list against the coordinator container: ok"
in_image_ctl --coordinator "127.0.0.1:$PORT" list >/dev/null || die "sr2ctl inside the image failed"
log "in-image sr2ctl list: ok"

if [ -n "$run_job" ]; then
  docker run -d --name sr2-smoke-worker --network host "${mounts[@]}" \
    "sr2-worker-cpu:$TAG" --coordinator "127.0.0.1:$PORT" >/dev/null
  containers+=(sr2-smoke-worker)
  log "RTN job through the containers (model $MODEL)"
  ctl --coordinator "127.0.0.1:$PORT" submit /model --out /smoke/out \
    --calib /calib.tokens.i32 --algorithm rtn --format fake --nsamples 4 --seqlen 64 --wait \
    >"$smoke/submit.log" 2>&1 ||
    { cat "$smoke/submit.log" >&2; docker logs sr2-smoke-worker >&2; die "job through the containers failed"; }
  [ -f "$smoke/out/sr2_manifest.json" ] || die "job finished but /smoke/out has no sr2_manifest.json"
  log "job through the containers: ok ($(ls "$smoke/out" | wc -l) files in the output)"
else
  log "skipping the job smoke test (needs the worker-cpu image and $MODEL)"
fi
log "all checks passed"
