"""The README's main command works on a fresh install and leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_and_names_the_planted_bulk_campaign(tmp_path: Path) -> None:
    """`detector demo` on a short scenario: exit 0, the summary lists every planted campaign,
    the bulk distiller is named, the HTML report is written where asked, and its own broker is
    stopped at the end."""
    report = tmp_path / "demo-report.html"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "demo",
            "--hours",
            "6",
            "--accounts",
            "60",
            "--seed",
            "3",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "160"},  # a wide table keeps each campaign on one line
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    assert "Planted campaigns" in out
    bulk_rows = [line for line in out.splitlines() if "camp_bulk_1" in line]
    assert bulk_rows and "1/1" in bulk_rows[0]
    assert "Local broker stopped." in out
    assert f"Report: {report}" in out.replace("\n", "")
    page = report.read_text()
    assert "camp_bulk_1" in page and "id='evaluation'" in page
