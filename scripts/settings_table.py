"""Rewrite the settings table in README.md from detector/settings.py (run after adding a setting)."""

from __future__ import annotations

import re
from pathlib import Path

from detector.settings import Settings

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def render() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = (
            "unset"
            if default is None
            else "(secret)"
            if hasattr(default, "get_secret_value")
            else f"`{default}`"
        )
        rows.append(f"| `DETECTOR_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)


def main() -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    readme.write_text(pattern.sub(f"{START}\n{render()}\n{END}", text))


if __name__ == "__main__":
    main()
