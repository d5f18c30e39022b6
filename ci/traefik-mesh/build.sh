#!/usr/bin/env bash
# Build Traefik Mesh's two images from the Go module proxy (nothing else is fetched) and print their names:
#   the controller (github.com/traefik/mesh ./cmd/mesh) and the proxy (github.com/traefik/traefik/v2 ./cmd/traefik),
#   each one static binary in an otherwise empty image (FROM scratch, as ci/kind's component images).
#
#   build.sh             build what is missing, print TRAEFIK_MESH_CONTROLLER_IMAGE=IMAGE and
#                        TRAEFIK_MESH_PROXY_IMAGE=IMAGE (what the adapter file reads: `export $(build.sh)`)
#   build.sh --name      print the two names only (nothing is built)
#   build.sh --load      build, then load both into the kind cluster $SMI_KIND_CLUSTER (default smi-kind)
#   build.sh --binaries  build the two binaries only (no Docker needed: .ci/run builds them beside the node image)
#
# Both modules pin Go 1.19 (traefik's quic-go refuses newer compilers on purpose), so the go command fetches
# that toolchain from the module proxy (GOTOOLCHAIN). Both go.mod files carry replace directives, which
# `go install pkg@version` refuses: each is built inside a small wrapper module that requires the released
# version and repeats its replace and exclude directives, so every dependency is the version upstream builds
# with. Binaries are cached under the ci/kind cache by version, images are tagged by a hash of every input (pins,
# this script, ci/kind/lib.sh): a second run builds nothing.
set -euo pipefail
source "$(dirname "$0")/../kind/lib.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

MESH_VERSION="${MESH_VERSION:-v1.4.8}"
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v2.8.3}"   # what mesh ${MESH_VERSION}'s go.mod requires
GO_TOOLCHAIN="${GO_TOOLCHAIN:-go1.19.13}"
export GOTOOLCHAIN="$GO_TOOLCHAIN"
REPO="${SMI_TRAEFIK_MESH_REPO:-smi-conformance/traefik-mesh}"

inputs_hash() {
  {
    printf '%s\n' "$MESH_VERSION" "$TRAEFIK_VERSION" "$GO_TOOLCHAIN" "$(GOTOOLCHAIN=local go env GOARCH)"
    sha256sum <"$HERE/build.sh" | cut -c1-64
    sha256sum <"$KIND_CI_DIR/lib.sh" | cut -c1-64
  } | sha256sum | cut -c1-12
}
KEY="$(inputs_hash)"
CONTROLLER="${REPO}-controller:${MESH_VERSION}-${KEY}"
PROXY="${REPO}-proxy:${TRAEFIK_VERSION}-${KEY}"

# in the form the adapter file reads them: export $(build.sh)
print_names() { printf 'TRAEFIK_MESH_CONTROLLER_IMAGE=%s\nTRAEFIK_MESH_PROXY_IMAGE=%s\n' "$CONTROLLER" "$PROXY"; }
load=0
binaries_only=0
case "${1:-}" in
  --name) print_names; exit 0 ;;
  --load) load=1 ;;
  --binaries) binaries_only=1 ;;
  "") ;;
  *) die "unknown option $1 (see the header of $0)" ;;
esac

# wrapper MODULE VERSION DIR: a module in DIR that requires MODULE@VERSION with MODULE's own replace and exclude
# directives (the ones a go.mod of a dependency loses)
wrapper() {
  local module="$1" version="$2" dir="$3" upstream
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  upstream="$(cd "$dir" && go mod download -json "${module}@${version}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$upstream" ]] || die "no go.mod for ${module}@${version}"
  if grep -Eq '=>\s*\.' "$upstream"; then die "${module}@${version} replaces a module by a local path"; fi
  {
    printf 'module smi-conformance.local/%s-build\n\ngo 1.19\n\nrequire %s %s\n\n' "${module##*/}" "$module" "$version"
    # `replace ( ... )` and `exclude ( ... )` blocks, and single-line replace / exclude directives
    awk '/^(replace|exclude) \($/ {keep=1} keep {print} keep && /^\)$/ {keep=0; print ""}
         /^(replace|exclude) [^(]/ {print}' "$upstream"
  } >"$dir/go.mod"
  (cd "$dir" && "${NICE[@]}" go get "${module}@${version}")
}

# binaries depend on the versions only (as ci/kind's); the image tags on every input
bin="${SMI_KIND_CACHE}/traefik-mesh/mesh-${MESH_VERSION}-traefik-${TRAEFIK_VERSION}-${GO_TOOLCHAIN}"
if [[ ! -f "$bin/.complete" ]]; then
  mkdir -p "$bin"
  log "Go toolchain ${GO_TOOLCHAIN} (from the module proxy): $(go version)"
  start=$SECONDS
  mod="${SMI_KIND_CACHE}/src/traefik-${TRAEFIK_VERSION}"
  wrapper github.com/traefik/traefik/v2 "$TRAEFIK_VERSION" "$mod"
  log "building traefik ${TRAEFIK_VERSION} (the mesh's proxy)"
  (
    cd "$mod"
    v=github.com/traefik/traefik/v2/pkg/version
    GO_LDFLAGS="-X $v.Version=${TRAEFIK_VERSION} -X $v.BuildDate=1970-01-01T00:00:00Z" \
      go_build "$bin" github.com/traefik/traefik/v2/cmd/traefik
  )
  log "traefik built in $((SECONDS - start)) s"
  start=$SECONDS
  mod="${SMI_KIND_CACHE}/src/traefik-mesh-${MESH_VERSION}"
  wrapper github.com/traefik/mesh "$MESH_VERSION" "$mod"
  log "building traefik mesh ${MESH_VERSION} (the controller)"
  (
    cd "$mod"
    v=github.com/traefik/mesh/pkg/version
    GO_LDFLAGS="-X $v.Version=${MESH_VERSION} -X $v.Date=1970-01-01T00:00:00Z" \
      go_build "$bin" github.com/traefik/mesh/cmd/mesh
  )
  log "traefik mesh built in $((SECONDS - start)) s"
  "$bin/traefik" version | grep -q "Version:\s*${TRAEFIK_VERSION}$" || die "traefik reports: $("$bin/traefik" version)"
  "$bin/mesh" version | grep -q "${MESH_VERSION}" || die "mesh reports: $("$bin/mesh" version)"
  touch "$bin/.complete"
fi
if ((binaries_only)); then
  log "binaries in $bin"
  exit 0
fi

# image NAME BINARY: one static binary at / in an image of nothing else
image() {
  local name="$1" binary="$2" work
  if docker image inspect "$name" >/dev/null 2>&1; then return; fi
  work="$(mktemp -d)"
  mkdir -p "$work/tmp" && chmod 1777 "$work/tmp"
  install -m 0755 "$bin/$binary" "$work/$binary"
  tar -C "$work" --numeric-owner -c . | docker import --change "ENTRYPOINT [\"/$binary\"]" - "$name" >/dev/null
  rm -rf "$work"
  log "image $name ($(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1/1e6}'))"
  # older builds of this image go, unless a container still uses them
  docker image ls "${name%%:*}" --format '{{.Repository}}:{{.Tag}}' | grep -vx "$name" | xargs -r docker rmi >/dev/null 2>&1 || true
}
image "$CONTROLLER" mesh
image "$PROXY" traefik

if ((load)); then
  cluster="${SMI_KIND_CLUSTER:-smi-kind}"
  for name in "$CONTROLLER" "$PROXY"; do
    log "loading $name into kind cluster $cluster"
    "$(command -v kind || echo "${SMI_KIND_CACHE}/bin/kind")" load docker-image "$name" --name "$cluster" >&2
  done
fi
print_names
