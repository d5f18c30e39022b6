"""Where conformance tests run: cluster backends (kind for real Kubernetes; embedded loopback later)."""
