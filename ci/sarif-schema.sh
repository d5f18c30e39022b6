#!/usr/bin/env bash
# Prints the path of the official SARIF 2.1.0 JSON Schema (the copy Microsoft ships in its npm package
# @microsoft/jest-sarif), fetched once with npm into a cache; the SARIF reporter's test validates against it.
# Exits 1 (printing nothing on stdout) when npm is missing or the fetch fails: the test then skips, saying so.
set -euo pipefail
package="@microsoft/jest-sarif@1.0.0-beta.0"
member="package/lib/schemas/sarif-2.1.0-rtm.5.json"
cache="${SMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smi-conformance}/sarif"
schema="$cache/$(basename "$member")"
if [[ ! -s "$schema" ]]; then
  command -v npm >/dev/null || { echo "sarif-schema: npm not found" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && timeout 120 npm pack --silent "$package" >/dev/null)  # a slow registry must not hold the tests
  tar -xzf "$work"/*.tgz -C "$work" "$member"
  mkdir -p "$cache"
  mv "$work/$member" "$schema.tmp" && mv "$schema.tmp" "$schema"
fi
echo "$schema"
