#!/usr/bin/env bash
# One command from nothing to a running 2-node kind cluster; prints the kubeconfig path on stdout.
#   ci/kind/up.sh                  start dockerd if needed, build kind and the node image if needed, create/reuse
#   SMI_KIND_IMAGE=kindest/node:v1.35.0 ci/kind/up.sh
#                                  use that node image instead of building one (machines with a registry)
#   SMI_KIND_BUILD=cached ci/kind/up.sh
#                                  use the built image only if it is already cached; exit 3 otherwise
# Environment: SMI_KIND_CLUSTER (cluster name, default smi-kind), SMI_KIND_CACHE (default /var/cache/smi-kind).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo="$(cd "$KIND_CI_DIR/../.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3
name="${SMI_KIND_CLUSTER:-smi-kind}"

step() {
  local label="$1"; shift
  local start=$SECONDS out
  out="$("$@")"
  log "$label: $((SECONDS - start)) s"
  printf '%s' "$out"
}

bash "$KIND_CI_DIR/setup-docker.sh"
kind_bin="$(step "kind CLI" bash "$KIND_CI_DIR/install-kind.sh")"
image="${SMI_KIND_IMAGE:-}"
if [[ -z "$image" ]]; then
  if [[ "${SMI_KIND_BUILD:-always}" == cached ]] && ! bash "$KIND_CI_DIR/build-node-image.sh" --exists; then
    log "no cached node image $(bash "$KIND_CI_DIR/build-node-image.sh" --name); not building one (SMI_KIND_BUILD=cached)"
    exit 3
  fi
  image="$(step "node image" bash "$KIND_CI_DIR/build-node-image.sh")"
fi
kubeconfig="$(SMI_KIND_BIN="$kind_bin" step "cluster $name ($image)" \
  "$python" -m smi_conformance.cluster.kind create --name "$name" --image "$image" --workers 1 --recreate)"
echo "$kubeconfig"
