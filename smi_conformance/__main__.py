"""``python -m smi_conformance`` runs the ``smi`` command line."""

from smi_conformance.cli import main

main()
