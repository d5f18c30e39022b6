"""The rules, grouped by what they look at; the registry (``smi_conformance.lint.registry``) lists them."""
