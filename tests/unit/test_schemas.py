"""The committed JSON Schemas are exactly what the pydantic models generate."""

from __future__ import annotations

from pathlib import Path

from detector.cli import render_schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_committed_schemas_are_up_to_date() -> None:
    """Run `detector schemas` when this fails: a contract changed without its schema file."""
    for name, content in render_schemas().items():
        committed = (SCHEMAS / name).read_bytes()
        assert committed == content, f"schemas/{name} is stale; run `detector schemas`"
