"""The Kubernetes API client the reference mesh uses: the project's one,
:mod:`smi_conformance.cluster.kubeapi` (the conformance suite's Kubernetes backend talks to the API server the
same way)."""

from __future__ import annotations

from smi_conformance.cluster.kubeapi import ApiError, KubeApi, Resource, connect

__all__ = ["ApiError", "KubeApi", "Resource", "connect"]
