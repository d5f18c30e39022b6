"""Shared fixtures: where the SMI reference data (../shared/smi-spec) lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The reference data folder: $SMI_SHARED_DIR, else ../shared beside the repository."""
    env = os.environ.get("SMI_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def smi_spec_dir() -> Path:
    """../shared/smi-spec, or skip: the official CRDs and spec examples are reference data, not ours."""
    path = shared_dir() / "smi-spec"
    if not (path / "examples").is_dir():
        pytest.skip(f"SMI reference data not found at {path} (set SMI_SHARED_DIR)")
    return path
