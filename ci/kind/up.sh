#!/usr/bin/env bash
# One command from nothing to a running 2-node kind cluster; prints the kubeconfig path on stdout.
#   ci/kind/up.sh                  start dockerd and build kind and the node image if needed, then create the
#                                  cluster (replacing one of the same name)
#   SMI_KIND_IMAGE=kindest/node:v1.37.0 ci/kind/up.sh
#                                  use that node image instead of building one (machines with a registry)
# Environment: SMI_KIND_CLUSTER (cluster name, default smi-kind), SMI_KIND_CACHE (see lib.sh).
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
  image="$(step "node image" bash "$KIND_CI_DIR/build-node-image.sh")"
fi
create=("$python" -m smi_conformance.cluster.kind create --name "$name" --image "$image" --workers 1 --recreate)
export SMI_KIND_BIN="$kind_bin"
if ! kubeconfig="$(step "cluster $name ($image)" "${create[@]}")"; then
  log "cluster creation failed; trying once more"
  kubeconfig="$(step "cluster $name ($image), second try" "${create[@]}")"
fi
echo "$kubeconfig"
