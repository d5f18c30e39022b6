"""smi-conformance: SMI models, the `smi lint` linter and the SMI conformance suite."""

__version__ = "0.1.0"
