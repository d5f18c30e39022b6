#!/usr/bin/env bash
# Delete the kind cluster ci/kind/up.sh made (SMI_KIND_CLUSTER, default smi-kind) and its kubeconfig file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo="$(cd "$KIND_CI_DIR/../.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3
"$python" -m smi_conformance.cluster.kind delete --name "${SMI_KIND_CLUSTER:-smi-kind}"
