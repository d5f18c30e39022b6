#!/usr/bin/env bash
# Build kubeconform (the schema-only Kubernetes manifest validator smi lint is compared with in
# benchmarks/lint_speed.py) from the Go module proxy into the ci/kind cache; print its path.
# A kubeconform already on PATH at the pinned version is used as is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/kind/lib.sh"

KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"

if command -v kubeconform >/dev/null && [[ "$(kubeconform -v 2>/dev/null)" == "$KUBECONFORM_VERSION" ]]; then
  command -v kubeconform
  exit 0
fi
command -v go >/dev/null || die "go is not installed: kubeconform is built with go install"
bin="${SMI_KIND_CACHE}/bin"
if [[ ! -x "$bin/kubeconform" || "$("$bin/kubeconform" -v 2>/dev/null)" != "$KUBECONFORM_VERSION" ]]; then
  log "building kubeconform ${KUBECONFORM_VERSION}"
  (cd "${TMPDIR:-/tmp}" && GOBIN="$bin" "${NICE[@]}" go install -p "$GO_PARALLEL" -trimpath \
    -ldflags "-s -w -X main.version=${KUBECONFORM_VERSION}" \
    "github.com/yannh/kubeconform/cmd/kubeconform@${KUBECONFORM_VERSION}")
fi
echo "$bin/kubeconform"
