#!/usr/bin/env bash
# Build the workload image the kind cluster tests run (ci/kind/go/cmd/kind-testserver: one static Go binary in an
# otherwise empty image) and print its name. Needs Go and a Docker engine, nothing else; the same on every machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

src="$KIND_CI_DIR/go"
key="$(cd "$src" && find go.mod go.sum cmd/kind-testserver -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
IMAGE="${SMI_KIND_TESTSERVER_REPO:-smi-conformance/kind-testserver}:${key}"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "building $IMAGE"
(cd "$src" && go_build "$work/root/usr/local/bin" ./cmd/kind-testserver)
tar -C "$work/root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/bin' --change 'ENTRYPOINT ["/usr/local/bin/kind-testserver"]' - "$IMAGE" >/dev/null
docker image ls "${IMAGE%%:*}" --format '{{.Repository}}:{{.Tag}}' | grep -vx "$IMAGE" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$IMAGE"
