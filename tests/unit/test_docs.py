"""The README documents the code as it is."""

from __future__ import annotations

from pathlib import Path

from detector.cli import HANDLERS
from detector.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    """Each DETECTOR_* variable appears in the settings table next to its current default."""
    for name, field in Settings.model_fields.items():
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| `DETECTOR_{name.upper()}` |")), None
        )
        assert row is not None, f"DETECTOR_{name.upper()} missing from README"
        if field.default is not None and not hasattr(field.default, "get_secret_value"):
            assert f"`{field.default}`" in row, f"README default of {name} is stale"


def test_every_command_is_in_the_readme() -> None:
    """Each `detector` subcommand is documented."""
    for command in HANDLERS:
        assert f"`detector {command}" in README
