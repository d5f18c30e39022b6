"""Workloads the conformance suite and the reference mesh run: the echo backend."""
