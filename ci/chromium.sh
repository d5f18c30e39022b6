#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the HTML report's browser test (Debian's chromium package),
# installing it once with apt-get when it is missing and we are root (the package manager's copy is the cache).
# Exits 1, printing nothing on stdout, when there is none and it cannot be installed: the test then skips, saying so.
set -euo pipefail
for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then echo "$candidate"; exit 0; fi
done
command -v apt-get >/dev/null || { echo "chromium: not installed, and no apt-get to install it" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "chromium: not installed, and installing it needs root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
install() { timeout 600 apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2; }
# a stale package list cannot find the current version: refresh it once and retry (each step bounded)
install || { timeout 300 apt-get update -q >&2 && install; } || { echo "chromium: apt-get install failed" >&2; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "chromium: installed, but /usr/bin/chromium is missing" >&2; exit 1; }
echo /usr/bin/chromium
