"""The benchmark harness's own arithmetic and report (no timing is asserted anywhere)."""

from __future__ import annotations

from dataclasses import asdict

from benchmarks.common import Result, percentile
from benchmarks.report import BEGIN, END, render
from benchmarks.scaling import aggregate_rate


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 of 1..100 are 50 and 99; an empty sample has none."""
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_group_rate_counts_only_while_every_member_consumes() -> None:
    """Commits before the last member started or after the first one ran dry are left out."""
    early = {"timeline": [[0.0, 100], [1.0, 100], [2.0, 100], [3.0, 100]]}
    late = {"timeline": [[1.0, 50], [2.0, 50], [2.5, 50]]}
    rate, seconds, events = aggregate_rate([early, late])
    assert (seconds, events) == (1.5, 100 + 50 + 50)
    assert rate == events / seconds


def test_report_renders_figures_and_settings() -> None:
    """A saved result becomes a table row with its runs and the settings it ran with."""
    result = Result("replay", "Replay throughput, one core")
    result.add("detector replay (events/s)", [10.0, 30.0, 20.0], "events/s", reference="read only")
    entry = {
        "result": asdict(result),
        "machine": {"cpus": 2, "cpu": "x", "memory_gib": 1, "python": "3.11", "load_avg_1m_at_start": 0.1},
        "revision": "abc",
        "measured_at": "now",
        "settings": {"DETECTOR_COORDINATION_MODE": "off", "DETECTOR_LOG_LEVEL": "warning"},
    }
    text = render([entry])
    assert "| detector replay (events/s) | 20.0 | events/s | 10.0, 30.0, 20.0 | read only |" in text
    assert "`DETECTOR_COORDINATION_MODE=off`" in text
    assert "DETECTOR_LOG_LEVEL" not in text
    assert BEGIN not in text and END not in text
