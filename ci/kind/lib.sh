# Shared settings for the ci/kind scripts. Source it; do not run it.
# Every version pin lives here, so the image tag (a hash of the inputs) changes when one does.

# Kubernetes 1.35 is the newest minor that still runs on a cgroup v1 host (with failCgroupV1: false)
# and on containerd 1.x (Debian bookworm ships 1.6); 1.36 drops containerd 1.x.
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
K8S_VERSION="${K8S_VERSION:-v1.35.4}"
# What kubeadm v1.35 asks for (cmd/kubeadm/app/constants): image tags must match these.
ETCD_VERSION="${ETCD_VERSION:-v3.6.6}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.13.1}"
PAUSE_TAG="${PAUSE_TAG:-3.10.1}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"  # no v1.35 tag is served; crictl talks CRI v1, any recent one works
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

# Everything built is cached on the machine, outside the work tree, so fresh clones reuse it
# (root, as in CI: /var/cache/smi-kind; other users: ~/.cache/smi-kind).
if [[ $EUID -eq 0 ]]; then
  SMI_KIND_CACHE="${SMI_KIND_CACHE:-/var/cache/smi-kind}"
else
  SMI_KIND_CACHE="${SMI_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smi-kind}"
fi
export GOMODCACHE="${SMI_KIND_CACHE}/gomod"
export GOCACHE="${SMI_KIND_CACHE}/gobuild"
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
# The machine is shared: at most two compile jobs, at low priority.
export GOMAXPROCS="${GOMAXPROCS:-2}"
GO_PARALLEL="${GO_PARALLEL:-2}"
NICE=(nice -n 10)

KIND_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# go_build OUTDIR PKG...: static, stripped binaries built in one invocation so packages are shared.
go_build() {
  local out="$1"; shift
  mkdir -p "$out"
  "${NICE[@]}" go build -p "$GO_PARALLEL" -trimpath -ldflags "-s -w ${GO_LDFLAGS:-}" \
    ${GO_TAGS:+-tags "$GO_TAGS"} -o "$out/" "$@"
}
