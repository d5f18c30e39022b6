#!/usr/bin/env bash
# Build the kind CLI from the Go module proxy (kind's own documented install) into the cache; print its path.
# A kind already on PATH at the pinned version is used as is.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if command -v kind >/dev/null && [[ "$(kind version | cut -d' ' -f2)" == "$KIND_VERSION" ]]; then
  command -v kind
  exit 0
fi
bin="${SMI_KIND_CACHE}/bin"
if [[ ! -x "$bin/kind" || "$("$bin/kind" version | cut -d' ' -f2)" != "$KIND_VERSION" ]]; then
  log "building kind ${KIND_VERSION}"
  GOBIN="$bin" "${NICE[@]}" go install -p "$GO_PARALLEL" -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@${KIND_VERSION}"
fi
echo "$bin/kind"
