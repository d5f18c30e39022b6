"""Where meshes started by ``reference-mesh up`` keep their state file, credentials and logs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_home"]


def default_home() -> Path:
    """``$REFERENCE_MESH_HOME``, else ``~/.cache/reference-mesh``; each mesh uses ``<home>/<name>/``."""
    return Path(os.environ.get("REFERENCE_MESH_HOME") or Path.home() / ".cache" / "reference-mesh")
