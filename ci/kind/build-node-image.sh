#!/usr/bin/env bash
# Build the kind node image from what this machine can reach (Debian packages and the Go module proxy), and print
# its name. The tag is a hash of every input (scripts, node files, our Go sources, pinned versions), so an
# existing image is reused as is and a changed input builds a new one.
#
#   build-node-image.sh             build if needed, print the image name
#   build-node-image.sh --name      print the image name only (nothing is built)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODE_PACKAGES=(systemd systemd-sysv containerd runc containernetworking-plugins iptables nftables conntrack iproute2
  ethtool kmod libseccomp2 pigz ca-certificates curl jq procps e2fsprogs socat util-linux mount)
PROXY_PACKAGES=(iptables nftables conntrack)

inputs_hash() {
  {
    printf '%s\n' "$KIND_VERSION" "$K8S_VERSION" "$ETCD_VERSION" "$COREDNS_VERSION" "$CRICTL_VERSION" "$PAUSE_TAG" \
      "$DEBIAN_SUITE" "${NODE_PACKAGES[*]}" "${PROXY_PACKAGES[*]}"
    cd "$KIND_CI_DIR"
    # the test workloads (go/cmd/kind-testserver) are not part of the node image
    find lib.sh build-*.sh node images go -type f ! -path 'go/cmd/kind-testserver/*' | LC_ALL=C sort \
      | while read -r f; do printf '%s %s %s\n' "$f" "$([[ -x "$f" ]] && echo x)" "$(sha256sum <"$f" | cut -c1-64)"; done
  } | sha256sum | cut -c1-12
}
IMAGE="${SMI_KIND_NODE_REPO:-smi-kind/node}:${K8S_VERSION}-$(inputs_hash)"

case "${1:-}" in
  --name) echo "$IMAGE"; exit 0 ;;
  "") ;;
  *) die "unknown option $1 (see the header of $0)" ;;
esac
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "node image $IMAGE is already built"
  echo "$IMAGE"
  exit 0
fi

total_start=$SECONDS
k8s_bin="$(bash "$KIND_CI_DIR/build-k8s.sh")"
comp="$(bash "$KIND_CI_DIR/build-components.sh")"
node_rootfs="$(bash "$KIND_CI_DIR/build-rootfs.sh" node "${NODE_PACKAGES[@]}")"
proxy_rootfs="$(bash "$KIND_CI_DIR/build-rootfs.sh" proxy "${PROXY_PACKAGES[@]}")"

work="$(mktemp -d "${SMI_KIND_CACHE}/.node-image.XXXXXX")"
build_ctr="smi-kind-build-$$"
temp_images=()
cleanup() {
  docker rm -f "$build_ctr" >/dev/null 2>&1 || true
  ((${#temp_images[@]})) && docker rmi "${temp_images[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/archives"

# image NAME DIR [--change ...]: a one-layer image from a directory, saved as an archive for the node's containerd
image() {
  local name="$1" dir="$2"; shift 2
  tar -C "$dir" --numeric-owner -c . | docker import "$@" - "$name" >/dev/null
  temp_images+=("$name")
  docker save "$name" -o "$work/archives/$(echo "$name" | tr '/:' '__').tar"
}
PATH_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

log "component images"
# Image names are the ones kubeadm itself asks for (its default image repository), so nothing here hard-codes them;
# the pinned etcd, CoreDNS and pause versions must be the ones this kubeadm expects.
kubeadm_images="$("$k8s_bin/kubeadm" config images list --kubernetes-version "$K8S_VERSION")"
kubeadm_image() {  # kubeadm_image COMPONENT [EXPECTED_TAG]: the full name kubeadm uses for COMPONENT
  local name
  name="$(grep -E "/$1:[^/]+$" <<<"$kubeadm_images" | head -n 1)" || die "kubeadm $K8S_VERSION lists no $1 image"
  [[ -z "${2:-}" || "${name##*:}" == "$2" ]] || die "kubeadm $K8S_VERSION wants $name, but lib.sh pins $1 $2"
  echo "$name"
}
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  mkdir -p "$work/$b/usr/local/bin"
  cp "$k8s_bin/$b" "$work/$b/usr/local/bin/"
  image "$(kubeadm_image "$b" "$K8S_VERSION")" "$work/$b" --change "$PATH_ENV"
done
mkdir -p "$work/etcd/usr/local/bin" "$work/etcd/var/lib/etcd"
cp "$comp/etcd" "$work/etcd/usr/local/bin/"
image "$(kubeadm_image etcd "${ETCD_VERSION#v}-0")" "$work/etcd" --change "$PATH_ENV"
mkdir -p "$work/coredns"
cp "$comp/coredns" "$work/coredns/coredns"
image "$(kubeadm_image coredns "$COREDNS_VERSION")" "$work/coredns" --change 'ENTRYPOINT ["/coredns"]'
mkdir -p "$work/pause"
cp "$comp/pause" "$work/pause/pause"
pause_image="$(kubeadm_image pause "$PAUSE_TAG")"
image "$pause_image" "$work/pause" --change 'ENTRYPOINT ["/pause"]'
# our own pod-network daemon: a local name, never pulled (imagePullPolicy: Never)
netd_image="localhost/smi-conformance/kind-netd:$(sha256sum "$comp/kind-netd" | cut -c1-12)"
mkdir -p "$work/netd/usr/local/bin"
cp "$comp/kind-netd" "$work/netd/usr/local/bin/"
image "$netd_image" "$work/netd" --change "$PATH_ENV" --change 'ENTRYPOINT ["/usr/local/bin/kind-netd"]'
# kube-proxy programs iptables, so its image is a small Debian with iptables and conntrack
mkdir -p "$work/proxy"
tar -C "$work/proxy" -xf "$proxy_rootfs"
cp "$k8s_bin/kube-proxy" "$work/proxy/usr/local/bin/"
install -m 0755 "$KIND_CI_DIR/images/iptables-wrapper" "$work/proxy/usr/sbin/iptables-wrapper"
for cmd in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf iptables-wrapper "$work/proxy/usr/sbin/$cmd"
done
image "$(kubeadm_image kube-proxy "$K8S_VERSION")" "$work/proxy" --change "$PATH_ENV"
rm -rf "$work/proxy"

log "node root filesystem"
root="$work/root"
mkdir -p "$root"
tar -C "$root" -xf "$node_rootfs"
cp -a "$KIND_CI_DIR/node/." "$root/"
sed -i "s#@KIND_NETD_IMAGE@#${netd_image}#" "$root/kind/manifests/default-cni.yaml"
sed -i "s#@PAUSE_IMAGE@#${pause_image}#" "$root/etc/containerd/config.toml"
install -m 0755 "$k8s_bin/kubelet" "$k8s_bin/kubeadm" "$k8s_bin/kubectl" "$root/usr/bin/"
install -m 0755 "$comp/crictl" "$root/usr/local/bin/"
echo -n "$K8S_VERSION" >"$root/kind/version"
mkdir -p "$root/etc/kubernetes/manifests" "$root/etc/kubernetes/kubelet.conf.d" "$root/etc/cni/net.d" "$root/opt/cni"
rm -rf "$root/opt/cni/bin"
ln -s /usr/lib/cni "$root/opt/cni/bin"   # Debian installs the CNI plugins there
# systemd in a container: boot to multi-user, run containerd and the kubelet, skip what belongs to a real machine
units="$root/etc/systemd/system"
ln -sf /lib/systemd/system/multi-user.target "$units/default.target"
mkdir -p "$units/multi-user.target.wants"
ln -sf /lib/systemd/system/containerd.service "$units/multi-user.target.wants/containerd.service"
ln -sf /etc/systemd/system/kubelet.service "$units/multi-user.target.wants/kubelet.service"
for unit in systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount getty.target \
  console-getty.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  systemd-firstboot.service; do
  ln -sf /dev/null "$units/$unit"
done
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\n# the kernel log is the host'"'"'s, not this node'"'"'s\nReadKMsg=no\n' >"$root/etc/systemd/journald.conf.d/10-kind.conf"
: >"$root/etc/machine-id"
image_base="smi-kind/node-base:$$"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV container=docker' --change "$PATH_ENV" \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "$image_base" >/dev/null
temp_images+=("$image_base")
rm -rf "$root"

log "preloading $(ls "$work/archives" | wc -l) images into the node's containerd"
docker run -d --name "$build_ctr" --entrypoint sleep --security-opt seccomp=unconfined "$image_base" infinity >/dev/null
docker cp "$work/archives" "$build_ctr:/preload"
docker exec "$build_ctr" bash -c '
  set -euo pipefail
  containerd >/var/log/containerd-preload.log 2>&1 &
  for _ in $(seq 1 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done
  for archive in /preload/*.tar; do
    ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests "$archive" >/dev/null
  done
  # --digests also names each image by digest ("import-DATE@sha256:..."); list only the real names
  ctr --namespace=k8s.io images list -q | grep -v -e "^sha256:" -e "^import-" | sort
  kill %1; wait || true
  rm -rf /preload /var/log/containerd-preload.log /run/containerd
' >"$work/preloaded.txt"
sed 's/^/  preloaded: /' "$work/preloaded.txt" >&2
for want in "$(kubeadm_image kube-apiserver)" "$pause_image" "$netd_image"; do
  grep -qx "$want" "$work/preloaded.txt" || die "$want missing from the node's containerd"
done
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
  "$build_ctr" "$IMAGE" >/dev/null
# keep the disk bounded: older builds of this image go, unless a container still uses them
docker image ls "${IMAGE%%:*}" --format '{{.Repository}}:{{.Tag}}' | grep -vx "$IMAGE" \
  | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $IMAGE in $((SECONDS - total_start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$IMAGE"
