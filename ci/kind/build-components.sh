#!/usr/bin/env bash
# Build the non-Kubernetes binaries of the node image from the Go module proxy and from ci/kind/go:
#   etcd, coredns, crictl (third party, cached by version) and kind-netd, pause (ours, cached by source hash).
# Prints the directory holding all five.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

third="${SMI_KIND_CACHE}/components/etcd-${ETCD_VERSION}-coredns-${COREDNS_VERSION}-crictl-${CRICTL_VERSION}"
if [[ ! -f "$third/.complete" ]]; then
  mkdir -p "$third"
  # coredns and crictl install straight from their modules
  log "building coredns ${COREDNS_VERSION} and crictl ${CRICTL_VERSION}"
  start=$SECONDS
  GOBIN="$third" "${NICE[@]}" go install -p "$GO_PARALLEL" -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@${COREDNS_VERSION}"
  GOBIN="$third" "${NICE[@]}" go install -p "$GO_PARALLEL" -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
  log "coredns and crictl built in $((SECONDS - start)) s"
  # etcd's server module points its sibling modules at ../ (replace directives), which `go install` refuses:
  # build it inside a wrapper module, where those directives do not apply and the published versions are used.
  log "building etcd ${ETCD_VERSION}"
  start=$SECONDS
  mod="${SMI_KIND_CACHE}/src/etcd-${ETCD_VERSION}"
  mkdir -p "$mod"
  (
    cd "$mod"
    printf 'module smi-conformance.local/etcd-build\n\ngo 1.24\n' > go.mod
    "${NICE[@]}" go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    go_build "$mod/bin" "go.etcd.io/etcd/server/v3"
  )
  mv "$mod/bin/server" "$third/etcd"  # go names the binary of a .../vN package after the element before
  "$third/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}" || die "etcd reports: $("$third/etcd" --version)"
  log "etcd built in $((SECONDS - start)) s"
  touch "$third/.complete"
fi

src="$KIND_CI_DIR/go"
ours_key="$(cd "$src" && find . -type f ! -path "./cmd/kind-testserver/*" \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) | sort | xargs sha256sum | sha256sum | cut -c1-16)"
ours="${SMI_KIND_CACHE}/components/ours-${ours_key}"
if [[ ! -f "$ours/.complete" ]]; then
  log "building kind-netd and pause from ci/kind/go"
  (cd "$src" && go_build "$ours" ./cmd/kind-netd ./cmd/pause)
  touch "$ours/.complete"
fi

out="${SMI_KIND_CACHE}/components/all-${ETCD_VERSION}-${COREDNS_VERSION}-${CRICTL_VERSION}-${ours_key}"
mkdir -p "$out"
for f in "$third"/etcd "$third"/coredns "$third"/crictl "$ours"/kind-netd "$ours"/pause; do
  ln -sf "$f" "$out/$(basename "$f")"
done
echo "$out"
