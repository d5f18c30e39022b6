#!/usr/bin/env bash
# Build the Kubernetes binaries kind's node image needs, from the Go module proxy, into the cache.
#   kubelet kubeadm kubectl (node binaries) and kube-apiserver kube-controller-manager kube-scheduler kube-proxy
#   (control-plane images). Prints the output directory. A second run with the same version is a no-op.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod points the k8s.io/* staging modules at ./staging.
# So we build inside a small wrapper module that replaces each staging module with its published v0.x twin.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

out="${SMI_KIND_CACHE}/k8s/${K8S_VERSION}"
bins=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
if [[ -f "$out/.complete" ]]; then
  echo "$out/bin"
  exit 0
fi

staging_version="v0.${K8S_VERSION#v1.}"
mod="${SMI_KIND_CACHE}/src/k8s-${K8S_VERSION}"
mkdir -p "$mod"
cd "$mod"
log "kubernetes ${K8S_VERSION}: preparing wrapper module in $mod (staging modules at ${staging_version})"
go mod download "k8s.io/kubernetes@${K8S_VERSION}"
k8s_dir="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$k8s_dir/go.mod")"
{
  echo "module smi-conformance.local/k8s-build"
  echo
  echo "go ${go_directive}"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  # every `k8s.io/x => ./staging/src/k8s.io/x` line of kubernetes' own go.mod
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"${staging_version}"'#p' "$k8s_dir/go.mod"
} > go.mod
log "go.mod has $(grep -c '^replace' go.mod) staging replacements"
"${NICE[@]}" go get "k8s.io/kubernetes@${K8S_VERSION}"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done
pkgs=()
for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
log "building ${bins[*]} (one go build, -p ${GO_PARALLEL}; the first time takes long)"
start=$SECONDS
GO_LDFLAGS="$ldflags" GO_TAGS="notest,grpcnotrace" go_build "$out/bin" "${pkgs[@]}"
log "kubernetes binaries built in $((SECONDS - start)) s"
"$out/bin/kubeadm" version -o short | grep -qx "${K8S_VERSION}" || die "kubeadm reports $("$out/bin/kubeadm" version -o short)"
touch "$out/.complete"
echo "$out/bin"
