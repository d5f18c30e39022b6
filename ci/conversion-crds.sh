#!/usr/bin/env bash
# Print where the CRDs `smi convert --to gateway-api` is checked against live, fetching them first if needed:
#   ci/conversion-crds.sh gateway-api   -> the folder of Gateway API's standard-channel CRDs
#   ci/conversion-crds.sh istio         -> Istio's CRD file (customresourcedefinitions.gen.yaml)
# Both come from Go modules (sigs.k8s.io/gateway-api, istio.io/api) through the Go module proxy, into the
# same module cache as ci/kind's builds, so each version is fetched once per machine. The kind tests
# (tests/kind/test_gateway_conversion.py) run this. Linkerd's policy CRDs are served by no registry.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/kind/lib.sh"

GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
ISTIO_API_VERSION="${ISTIO_API_VERSION:-v1.32.0}"

module_dir() {  # module@version -> its folder in the module cache
  local dir
  dir="$(cd "${TMPDIR:-/tmp}" && timeout 300 go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download $1 gave no module folder"
  printf '%s\n' "$dir"
}

case "${1:-}" in
  gateway-api) dir="$(module_dir "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}")"; echo "$dir/config/crd/standard" ;;
  istio) dir="$(module_dir "istio.io/api@${ISTIO_API_VERSION}")"; echo "$dir/kubernetes/customresourcedefinitions.gen.yaml" ;;
  *) echo "usage: $0 gateway-api|istio" >&2; exit 2 ;;
esac
