#!/usr/bin/env bash
# Offline checks of the deployment files (CTest: deploy_manifests). Exits non-zero on any
# failure.
#   - renders deploy/overlays/{cpu,gpu} with `kubectl kustomize` (skipped, with a message, if
#     kubectl is missing) and schema-checks every object with deploy/tools/validate.mjs;
#   - promtool check rules + promtool test rules on deploy/prometheus/;
#   - the Grafana dashboard parses and its PromQL is valid;
#   - the dashboard and alerts read only metrics of the contract in docs/operations.md;
#   - dockerfilelint on docker/*.Dockerfile.
# Installs what is missing: Debian nodejs/npm/prometheus (as root or through sudo) and the npm
# packages, into ${XDG_CACHE_HOME:-$HOME/.cache}/sr2-deploy-check (outside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sr2-deploy-check
NPM_PACKAGES=(kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1
              dockerfilelint@1.8.0)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

failures=0
step() { echo "== check-deploy: $*"; }
fail() { echo "check-deploy: FAILED: $*" >&2; failures=$((failures + 1)); }

# --- tools ------------------------------------------------------------------------------------
apt_missing=()
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
command -v promtool >/dev/null || apt_missing+=(prometheus)
[ ${#apt_missing[@]} -eq 0 ] || scripts/install-deps.sh "${apt_missing[@]}"
stamp="$CACHE/installed-$(echo "${NPM_PACKAGES[*]}" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  step "installing npm packages into $CACHE"
  mkdir -p "$CACHE"
  # A package.json keeps npm from installing into a parent folder's node_modules.
  [ -f "$CACHE/package.json" ] || echo '{"name": "sr2-deploy-check", "private": true}' >"$CACHE/package.json"
  # engine-strict off: kubernetes-models declares node >= 22 but runs on Debian's 18 and on 20.
  (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error --engine-strict=false \
    "${NPM_PACKAGES[@]}" >/dev/null)
  touch "$stamp"
fi
export SR2_NODE_MODULES="$CACHE/node_modules"

# --- Kubernetes manifests ---------------------------------------------------------------------
if command -v kubectl >/dev/null; then
  # The validator itself must reject a broken object, or a passing run means nothing.
  cat >"$WORK/broken.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  replicas: two
  template: {spec: {containers: [{image: x}]}}
EOF
  if node deploy/tools/validate.mjs "$WORK/broken.yaml" >"$WORK/broken.out" 2>&1; then
    cat "$WORK/broken.out" >&2
    fail "validate.mjs accepted a broken Deployment"
  fi
  for overlay in cpu gpu; do
    step "kubectl kustomize deploy/overlays/$overlay"
    if kubectl kustomize "deploy/overlays/$overlay" >"$WORK/$overlay.yaml"; then
      node deploy/tools/validate.mjs "$WORK/$overlay.yaml" | sed "s|$WORK/||" ||
        fail "deploy/overlays/$overlay has invalid objects"
    else
      fail "kubectl kustomize deploy/overlays/$overlay"
    fi
  done
  # The overlays must differ where they should.
  grep -q -- "--device=cuda:0" "$WORK/gpu.yaml" && grep -q "nvidia.com/gpu: 1" "$WORK/gpu.yaml" ||
    fail "gpu overlay lacks --device=cuda:0 or the nvidia.com/gpu limit"
  grep -q "image: sr2-worker-cpu:" "$WORK/cpu.yaml" || fail "cpu overlay does not use sr2-worker-cpu"
else
  echo "check-deploy: kubectl not found: SKIPPING the kustomize rendering and its validation" >&2
fi
step "deploy/examples (applied by hand)"
node deploy/tools/validate.mjs deploy/examples/*.yaml || fail "deploy/examples has invalid objects"

# --- Prometheus rules -------------------------------------------------------------------------
step "promtool check rules / test rules"
promtool check rules deploy/prometheus/sr2-alerts.yml || fail "promtool check rules"
(cd deploy/prometheus && promtool test rules sr2-alerts_test.yml) || fail "promtool test rules"

# --- Grafana dashboard ------------------------------------------------------------------------
step "deploy/grafana/sr2-dashboard.json"
# Parses, then every panel query (Grafana variables replaced) must be valid PromQL: promtool
# checks them as recording rules.
if python3 - deploy/grafana/sr2-dashboard.json "$WORK/dashboard-rules.yml" <<'EOF'
import json, sys
dashboard = json.load(open(sys.argv[1]))
assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS", "datasource input DS_PROMETHEUS missing"
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
assert exprs, "no panel queries"
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$job_id": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, expr in enumerate(exprs):
        for k, v in subst.items():
            expr = expr.replace(k, v)
        out.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(expr)}\n")
print(f"{len(dashboard['panels'])} panels, {len(exprs)} queries")
EOF
then
  promtool check rules "$WORK/dashboard-rules.yml" >/dev/null || fail "dashboard has invalid PromQL"
else
  fail "dashboard JSON"
fi

# Every sr2_* series the dashboard and the alerts read must be in the metrics contract that the
# daemons implement (docs/operations.md; the metrics integration test scrapes the daemons).
step "metric names used by deploy/ are in the contract"
python3 - docs/operations.md deploy/grafana/sr2-dashboard.json deploy/prometheus/sr2-alerts.yml \
  deploy/prometheus/sr2-alerts_test.yml <<'EOF' || fail "deploy/ uses metrics outside the contract"
import re, sys
doc = open(sys.argv[1]).read()
contract = set(re.findall(r"^\| `(sr2_[a-z_]+)` \|", doc, re.M))
assert len(contract) >= 15, f"contract tables not found in {sys.argv[1]}"
missing = set()
for path in sys.argv[2:]:
    for name in re.findall(r"\bsr2_[a-z_]+", open(path).read()):
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        if name not in contract and base not in contract:
            missing.add(f"{path}: {name}")
for m in sorted(missing):
    print(f"not in the metrics contract: {m}")
print(f"{len(contract)} contract metrics")
sys.exit(1 if missing else 0)
EOF

# --- Dockerfiles ------------------------------------------------------------------------------
step "dockerfilelint docker/*.Dockerfile"
# No rule is disabled. dockerfilelint cannot expand ARGs in FROM (it reports "missing tag"),
# so the Dockerfiles name their base images literally. Its exit code is the issue count.
printf 'FROM debian:bookworm\nRUN apt-get update && apt-get install curl\n' >"$WORK/bad.Dockerfile"
if "$SR2_NODE_MODULES/.bin/dockerfilelint" "$WORK/bad.Dockerfile" >/dev/null 2>&1; then
  fail "dockerfilelint accepted apt-get install without -y"
fi
for dockerfile in docker/*.Dockerfile; do
  "$SR2_NODE_MODULES/.bin/dockerfilelint" "$dockerfile" >"$WORK/lint.out" 2>&1 || {
    cat "$WORK/lint.out"
    fail "dockerfilelint $dockerfile"
  }
done

if [ "$failures" -gt 0 ]; then
  echo "check-deploy: $failures check(s) failed" >&2
  exit 1
fi
echo "check-deploy: all checks passed"
