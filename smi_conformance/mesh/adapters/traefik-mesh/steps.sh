#!/usr/bin/env bash
# The install and uninstall steps of the Traefik Mesh adapter file (../traefik-mesh.yaml) that need a decision,
# not just a manifest. Runs with KUBECONFIG and KUBE_CONTEXT naming the run's cluster.
#
#   steps.sh crds-check       refuse SMI CRDs someone else installed (they would be changed, then deleted)
#   steps.sh crds-delete      delete the SMI CRDs this adapter installed (by label), and wait
#   steps.sh coredns-save     keep CoreDNS's Corefile and Deployment template as they are before `mesh prepare`
#   steps.sh coredns-restore  after `mesh cleanup`: put back what it leaves changed (see below)
#
# `mesh prepare` appends two server blocks to CoreDNS's Corefile and restarts CoreDNS through an annotation on
# its pod template; `mesh cleanup` removes the blocks but leaves two blank lines per install and the annotation.
# coredns-restore puts the saved Corefile back when the only difference is that whitespace (anything else is
# someone else's change: left alone, and said), and removes the annotation when it was not there before.
set -euo pipefail
LABEL="smi-conformance.io/adapter=traefik-mesh"
NS=traefik-mesh
SAVED=coredns-before
CRDS=(traffictargets.access.smi-spec.io httproutegroups.specs.smi-spec.io tcproutes.specs.smi-spec.io
  trafficsplits.split.smi-spec.io)
k() { kubectl --context "$KUBE_CONTEXT" "$@"; }
say() { echo "traefik-mesh: $*" >&2; }

case "${1:-}" in
  crds-check)
    foreign=()
    for crd in "${CRDS[@]}"; do
      owner="$(k get crd "$crd" --ignore-not-found -o jsonpath='{.metadata.labels.smi-conformance\.io/adapter}{"|"}{.metadata.name}')"
      [[ -z "$owner" || "${owner%%|*}" == traefik-mesh ]] || foreign+=("$crd")
    done
    if ((${#foreign[@]})); then
      say "SMI CRDs installed by someone else: ${foreign[*]}; Traefik Mesh needs its own versions of them" \
        "(access v1alpha2, specs v1alpha3, split v1alpha3): uninstall whatever installed them first"
      exit 1
    fi
    ;;
  crds-delete)
    k delete crd -l "$LABEL" --ignore-not-found --wait --timeout=120s >&2
    ;;
  coredns-save)
    if k -n "$NS" get configmap "$SAVED" >/dev/null 2>&1; then
      exit 0  # saved by an earlier attempt of this install, before CoreDNS was changed
    fi
    corefile="$(k -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}')"
    if grep -q 'Traefik Mesh Block' <<<"$corefile"; then
      say "CoreDNS already has a Traefik Mesh block: is Traefik Mesh installed on this cluster already?"
      exit 1
    fi
    hash="$(k -n kube-system get deployment coredns -o jsonpath='{.spec.template.metadata.annotations.traefik-mesh-hash}')"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    k -n kube-system get configmap coredns -o go-template='{{index .data "Corefile"}}' >"$tmp/Corefile"
    printf '%s' "$hash" >"$tmp/annotation"
    k -n "$NS" create configmap "$SAVED" --from-file="$tmp/Corefile" --from-file="$tmp/annotation" >&2
    ;;
  coredns-restore)
    if ! k -n "$NS" get configmap "$SAVED" >/dev/null 2>&1; then
      if k -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}' | grep -q 'Traefik Mesh Block'; then
        say "CoreDNS still has a Traefik Mesh block, and nothing was saved to compare with"
        exit 1
      fi
      exit 0  # the install stopped before CoreDNS was touched
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    k -n "$NS" get configmap "$SAVED" -o go-template='{{index .data "Corefile"}}' >"$tmp/before"
    k -n kube-system get configmap coredns -o go-template='{{index .data "Corefile"}}' >"$tmp/now"
    if grep -q 'Traefik Mesh Block' "$tmp/now"; then
      say "mesh cleanup left its block in CoreDNS's Corefile"
      exit 1
    fi
    if ! cmp -s "$tmp/before" "$tmp/now"; then
      if diff -q <(grep -v '^\s*$' "$tmp/before") <(grep -v '^\s*$' "$tmp/now") >/dev/null; then
        say "Corefile: removing the blank lines mesh cleanup left"
        k -n kube-system create configmap coredns --from-file=Corefile="$tmp/before" --dry-run=client -o yaml \
          | k -n kube-system patch configmap coredns --type merge --patch-file /dev/stdin >&2
      else
        say "Corefile changed during the run by something else than Traefik Mesh: left as it is"
      fi
    fi
    before="$(k -n "$NS" get configmap "$SAVED" -o go-template='{{index .data "annotation"}}')"
    now="$(k -n kube-system get deployment coredns -o jsonpath='{.spec.template.metadata.annotations.traefik-mesh-hash}')"
    if [[ -z "$before" && -n "$now" ]]; then
      say "CoreDNS pod template: removing the restart annotation of mesh prepare/cleanup"
      k -n kube-system patch deployment coredns --type json \
        -p '[{"op": "remove", "path": "/spec/template/metadata/annotations/traefik-mesh-hash"}]' >&2
    fi
    k -n kube-system rollout status deployment coredns --timeout=180s >&2
    ;;
  *)
    echo "usage: $0 crds-check|crds-delete|coredns-save|coredns-restore" >&2
    exit 2
    ;;
esac
