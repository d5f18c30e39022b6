"""The Traffic Metrics API (metrics.smi-spec.io/v1alpha1) over the proxies' telemetry, a mesh-wide Prometheus
endpoint and a merged live request log (tap). See docs/reference-mesh/control-plane.md."""
