#!/usr/bin/env bash
# Installs the Debian 12 packages sr2 builds and tests with. Idempotent; needs root (or sudo).
# Usage: scripts/install-deps.sh [PACKAGE...]   (default: every package below)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev libbenchmark-dev libssl-dev
  # S3 integration tests run against OpenStack Swift's s3api (scripts/start-swift-s3.sh).
  swift swift-proxy swift-object swift-account swift-container python3-swift memcached
  # Deployment checks (scripts/check-deploy.sh): promtool, and node/npm for the manifest
  # validator and the Dockerfile linter. The metrics integration test runs a real Prometheus
  # server and queries it (and the endpoints) with curl.
  prometheus nodejs npm curl
  # sr2ctl's YAML goldens are read back with PyYAML (client/testdata/check_yaml_goldens.py).
  python3-yaml
)
[ $# -eq 0 ] || PACKAGES=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs ships npm itself and conflicts with Debian's npm package.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
