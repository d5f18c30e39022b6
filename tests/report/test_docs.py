"""docs/conformance/reports.md: its commands run, and its weight-check example is a real one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .reports import BROKEN

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = (REPO_ROOT / "docs" / "conformance" / "reports.md").read_text(encoding="utf-8")


def test_the_python_commands_of_the_page_run(tmp_path: Path) -> None:
    snippets = re.findall(r"\.venv/bin/python -c '(.*?)' r\.yaml", PAGE, flags=re.DOTALL)
    assert len(snippets) == 2
    shutil.copy(BROKEN, tmp_path / "r.yaml")
    for code in snippets:
        code = code.replace("schemas/json/", f"{REPO_ROOT}/schemas/json/")
        proc = subprocess.run(
            [sys.executable, "-c", code, "r.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_the_weight_check_example_is_the_saved_run() -> None:
    block = re.search(r"### Reading a weight check\n\n```yaml\n(.*?)```", PAGE, flags=re.DOTALL)
    assert block is not None
    shown = yaml.safe_load(block.group(1))
    report = yaml.safe_load(BROKEN.read_text())
    canary = next(t for t in report["tests"] if t["id"] == "split-canary-sequence")
    real = next(c for c in canary["checks"] if c["name"] == shown["name"])
    assert shown["message"] == real["message"]
    assert shown["observed"] == real["observed"] and shown["expected"] == real["expected"]
    stats = real["statistics"]
    assert shown["statistics"]["n"] == stats["n"] and shown["statistics"]["decision"] == stats["decision"]
    for mine in shown["statistics"]["backends"]:  # the page shows the first backend only
        theirs = next(b for b in stats["backends"] if b["name"] == mine["name"])
        assert mine["count"] == theirs["count"]
        assert mine["interval"] == [round(x, 4) for x in theirs["interval"]]
