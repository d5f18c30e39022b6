"""The conformance tests. Run them with ``pytest --smi-mesh=NAME`` or ``smi-conformance run``."""
