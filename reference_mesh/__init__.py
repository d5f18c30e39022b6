"""The reference mesh: a small, readable SMI implementation used as the known-good conformance target."""
