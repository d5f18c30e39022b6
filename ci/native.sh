#!/usr/bin/env bash
# ci/native.sh PYTHON: build smi lint's optional compiled YAML reader (native/, Rust: PyO3 and unsafe-libyaml
# from crates.io, built by maturin from PyPI) and install it into PYTHON's environment. `make setup` runs it.
#
# The wheel is cached by a hash of its inputs (native/'s sources, Cargo.lock, the Rust compiler's version), like
# the kind node image: a fresh clone on a machine that built it once installs it in a second; a change to
# native/ builds again (about a minute from nothing, most of it compiling PyO3). Nothing to do when the
# environment already has this build.
#
# Without cargo the linter runs its pure-Python path (the same findings, slower): this says so and succeeds,
# except under CI=true, where the compiled reader must be tested, so it fails.
set -euo pipefail
python="${1:?usage: ci/native.sh PYTHON}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[%s] native: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# rustup installs into ~/.cargo/bin, which a non-login shell (CI's) may not have on its PATH.
if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  if [[ "${CI:-}" == "true" ]]; then
    log "error: cargo (Rust) is not installed; CI must build and test the compiled YAML reader"
    exit 1
  fi
  log "cargo (Rust) is not installed: smi lint uses its pure-Python YAML path (same findings, slower)"
  exit 0
fi

inputs_hash="$(
  cd "$root/native"
  { find Cargo.toml Cargo.lock pyproject.toml src -type f -print0 | sort -z | xargs -0 sha256sum
    rustc --version; } | sha256sum | cut -c1-16
)"
env_dir="$("$python" -c 'import sys; print(sys.prefix)')"
stamp="$env_dir/.smi-conformance-yaml"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$inputs_hash" ]] && "$python" -c 'import smi_conformance_yaml' 2>/dev/null; then
  exit 0
fi

if [[ $EUID -eq 0 ]]; then cache_root="${SMI_NATIVE_CACHE:-/var/cache/smi-native}"
else cache_root="${SMI_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smi-native}"; fi
wheels="$cache_root/$inputs_hash"
if ! compgen -G "$wheels/*.whl" >/dev/null; then
  log "building the compiled YAML reader ($inputs_hash)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The build tree goes to a temporary folder: the clone stays clean, and runs never share a half-built target.
  CARGO_TARGET_DIR="$tmp/target" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    nice -n 10 "$python" -m pip wheel -q --no-deps -w "$tmp/wheel" "$root/native"
  mkdir -p "$cache_root"
  rm -rf "$wheels.partial" && mv "$tmp/wheel" "$wheels.partial" && mv "$wheels.partial" "$wheels"
fi
"$python" -m pip install -q --no-deps --force-reinstall "$wheels"/*.whl
echo "$inputs_hash" >"$stamp"
log "installed the compiled YAML reader ($inputs_hash)"
