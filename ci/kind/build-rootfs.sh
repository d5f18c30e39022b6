#!/usr/bin/env bash
# build-rootfs.sh NAME PACKAGE...: a minimal Debian root filesystem with the given packages, as a tarball in the
# cache (named by a hash of suite and package list). Prints the tarball's path. Uses debootstrap, so it needs root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

name="$1"; shift
packages="$(printf '%s\n' "$@" | sort -u | paste -sd, -)"
key="$(printf '%s|%s|%s' "$DEBIAN_SUITE" "$packages" "$(sha256sum "$0" | cut -c1-16)" | sha256sum | cut -c1-16)"
tarball="${SMI_KIND_CACHE}/rootfs/${name}-${DEBIAN_SUITE}-${key}.tar"
if [[ -f "$tarball" ]]; then
  echo "$tarball"
  exit 0
fi
[[ $EUID -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || {
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

mkdir -p "${SMI_KIND_CACHE}/rootfs" "${SMI_KIND_CACHE}/debs"
work="$(mktemp -d "${SMI_KIND_CACHE}/rootfs/.${name}.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "debootstrap ${DEBIAN_SUITE} (${name}): ${packages}"
start=$SECONDS
# no mirror argument: debootstrap's own default mirror (override with DEBIAN_MIRROR)
"${NICE[@]}" debootstrap --variant=minbase --include="$packages" --cache-dir="${SMI_KIND_CACHE}/debs" \
  "$DEBIAN_SUITE" "$work/root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2
  die "debootstrap failed"
}
# trim what a container never uses; keep dpkg's database so packages stay inspectable
rm -rf "$work/root"/var/cache/apt/* "$work/root"/var/lib/apt/lists/* "$work/root"/usr/share/doc/* \
  "$work/root"/usr/share/man/* "$work/root"/usr/share/info/* "$work/root"/var/log/*.log \
  "$work/root"/usr/share/locale/*
tar -C "$work/root" --numeric-owner --xattrs -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
log "rootfs ${name} built in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1)"
echo "$tarball"
