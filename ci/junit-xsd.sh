#!/usr/bin/env bash
# Prints the path of the Jenkins JUnit XML schema (junit-10.xsd, from Jenkins' xunit plugin, MIT), the copy pytest
# ships in its source distribution for its own junitxml tests; fetched once with pip into a cache. The conformance
# suite's JUnit writer is validated against it. Exits 1 (printing nothing on stdout) when the fetch fails: the test
# then skips, saying so.
set -euo pipefail
version="9.2.0"
member="pytest-$version/testing/example_scripts/junit-10.xsd"
cache="${SMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smi-conformance}/junit"
schema="$cache/junit-10.xsd"
if [[ ! -s "$schema" ]]; then
  python="python3"
  [[ -x .venv/bin/python ]] && python=".venv/bin/python"
  "$python" -m pip --version >/dev/null 2>&1 || { echo "junit-xsd: no pip" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # a slow registry must not hold the tests
  timeout 180 "$python" -m pip download -q --no-deps --no-binary :all: -d "$work" "pytest==$version" >&2
  tar -xzf "$work/pytest-$version.tar.gz" -C "$work" "$member"
  mkdir -p "$cache"
  mv "$work/$member" "$schema.tmp" && mv "$schema.tmp" "$schema"
fi
echo "$schema"
