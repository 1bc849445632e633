"""The README's main command works on a fresh install and leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_and_names_the_planted_bulk_campaign() -> None:
    """`detector demo` on a short scenario: exit 0, the summary lists every planted campaign,
    the bulk distiller is named, and its own broker is stopped at the end."""
    completed = subprocess.run(
        [sys.executable, "-m", "detector", "demo", "--hours", "6", "--accounts", "60", "--seed", "3"],
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
