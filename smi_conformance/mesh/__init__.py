"""Mesh adapters: what the suite knows about the mesh under test (see :mod:`.adapter`), and how they are found
(:mod:`.loader`: the ``smi_conformance.meshes`` entry point group, or a declarative adapter file)."""
