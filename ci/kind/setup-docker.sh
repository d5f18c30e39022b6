#!/usr/bin/env bash
# Make sure a Docker engine answers. On a developer's machine with Docker running this does nothing.
# Otherwise (this CI machine kind): install Debian's Docker package, register the runc-caps wrapper as the default
# runtime when the capability bounding set is short (docker --privileged fails without it), and start dockerd.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WRAPPER=/usr/local/libexec/smi-kind/runc-caps
DOCKERD_LOG="${SMI_KIND_CACHE}/dockerd.log"

bounding_set_is_full() {
  # CAP_LAST_CAP from the kernel; every bit up to it must be set in CapBnd
  local last mask want
  last="$(cat /proc/sys/kernel/cap_last_cap)"
  mask=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  want=$(((1 << (last + 1)) - 1))
  (( (mask & want) == want ))
}

docker_answers() { timeout 20 docker info >/dev/null 2>&1; }

if docker_answers; then
  if ! bounding_set_is_full && [[ "$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" != runc-caps ]]; then
    log "warning: dockerd is running without the runc-caps runtime, but this machine's capability bounding set"
    log "         is short: 'docker run --privileged' (kind) will fail. Stop dockerd and rerun this script."
  fi
  exit 0
fi
[[ $EUID -eq 0 ]] || die "no Docker engine answers and installing one needs root"

if ! command -v dockerd >/dev/null; then
  log "installing Debian's Docker package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

mkdir -p /etc/docker "$(dirname "$WRAPPER")" "$SMI_KIND_CACHE"
daemon_json=/etc/docker/daemon.json
if bounding_set_is_full; then
  log "capability bounding set is full: using plain runc"
else
  log "capability bounding set is short ($(awk '/^CapBnd:/ {print $2}' /proc/self/status)): runc-caps is dockerd's default runtime"
  install -m 0755 "$KIND_CI_DIR/docker/runc-caps" "$WRAPPER"
  # merge into any existing daemon.json rather than overwrite it
  python3 - "$daemon_json" "$WRAPPER" <<'PY'
import json, os, sys
path, wrapper = sys.argv[1], sys.argv[2]
conf = {}
if os.path.exists(path):
    with open(path) as f:
        text = f.read()
    conf = json.loads(text) if text.strip() else {}
conf.setdefault("runtimes", {})["runc-caps"] = {"path": wrapper}
conf["default-runtime"] = "runc-caps"
with open(path, "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
PY
fi

log "starting dockerd (log: $DOCKERD_LOG)"
# no init system here (PID 1 is not systemd): start it detached from this shell and its process group
setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  docker_answers && { log "dockerd is up ($(docker version --format '{{.Server.Version}}'))"; exit 0; }
  sleep 1
done
tail -n 30 "$DOCKERD_LOG" >&2
die "dockerd did not answer within 60 s"
