"""Writes the measured tables into the Performance section of ``docs/benchmarks.md``.

Only the block between the two markers is rewritten; everything else in the file (the
hand-written analysis, other sections such as Detection) is left as it is.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import DOC, fmt, load_saved

BEGIN = "<!-- BEGIN GENERATED: performance (python -m benchmarks) -->"
END = "<!-- END GENERATED: performance -->"
# Set by the harness itself, not a choice of the run.
_HARNESS_VARIABLES = {
    "DETECTOR_LOG_LEVEL",
    "DETECTOR_METRICS_PORT",
    "DETECTOR_BENCH_CODE",
    "DETECTOR_BENCH_LABEL",
}
_SKELETON = f"""# Benchmarks

## Performance

Run: `python -m benchmarks` (all, ~30 min) or `python -m benchmarks.<name>`; `--quick` for a smoke run.

{BEGIN}
{END}
"""


def render(saved: list[dict[str, Any]]) -> str:
    if not saved:
        return "No results yet: run `python -m benchmarks`."
    lines: list[str] = []
    first = saved[0]
    box = first["machine"]
    lines.append(
        f"Measured on {box['cpus']} cores ({box['cpu']}), {box['memory_gib']} GiB, Python {box['python']}; "
        "medians of the runs shown; the machine is shared, so compare a figure with its reference "
        "from the same run, not across runs."
    )
    lines.append("")
    for entry in saved:
        result = entry["result"]
        lines.append(f"### {result['title']}")
        lines.append("")
        lines.append(
            f"`python -m benchmarks.{result['benchmark']}` · revision {entry['revision']} · "
            f"{entry['measured_at']} · load {entry['machine']['load_avg_1m_at_start']} at start · "
            f"{result['seconds']:.0f} s"
        )
        overrides = {
            name: value
            for name, value in (entry.get("settings") or {}).items()
            if name not in _HARNESS_VARIABLES
        }
        if overrides:
            lines.append("")
            lines.append("Settings: " + ", ".join(f"`{name}={value}`" for name, value in overrides.items()))
        lines.append("")
        lines.append("| figure | median | unit | runs | compared with |")
        lines.append("|---|---:|---|---|---|")
        for figure in result["figures"]:
            runs = ", ".join(fmt(r) for r in figure["runs"])
            compared = " ".join(
                part for part in (figure.get("reference") or "", figure.get("note") or "") if part
            )
            lines.append(
                f"| {figure['name']} | {fmt(figure['value'])} | {figure['unit']} | {runs} | {compared} |"
            )
        lines.append("")
        lines.extend(f"{note}" + "\n" for note in result["notes"])
    return "\n".join(lines).rstrip() + "\n"


def write_report() -> None:
    text = DOC.read_text() if DOC.exists() else _SKELETON
    if BEGIN not in text or END not in text:
        text = text.rstrip() + "\n\n" + _SKELETON.split("## Performance", 1)[1].join(["## Performance", ""])
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(head + BEGIN + "\n" + render(load_saved()) + END + tail)


if __name__ == "__main__":
    write_report()
