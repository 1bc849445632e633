"""The alerts of a simulated run, for a report of ``detector evaluate``'s scenario.

``evaluate.run_once`` returns the scores of a run, not its alerts; rather than reach into it,
the report replays the same simulation (same scenario, seed and settings: the same alerts,
since replays are deterministic) through the production ``Detector``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from detector.events import Alert
from detector.pipeline.step import Detector
from detector.report.data import Labels
from detector.report.page import render_report
from detector.settings import Settings
from detector.simulate import Scenario, generate

_FIXED_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # emitted_at only; the report reads event time


def simulated_alerts(scenario: Scenario, seed: int, settings: Settings) -> tuple[list[Alert], Labels]:
    """Every alert the detector emits on the simulation of ``scenario`` with ``seed``, and its labels."""
    simulation = generate(scenario, seed=seed)
    detector = Detector(settings, clock=lambda: _FIXED_NOW)
    alerts = [
        alert for event in simulation.events() for alert in detector.process_one(orjson.dumps(event)).alerts
    ]
    labels = Labels.from_document({"campaigns": simulation.labels, "benign_kinds": simulation.benign_kinds})
    return alerts, labels


def evaluation_report(
    scenario: Scenario, seed: int, settings: Settings, summaries: Sequence[Mapping[str, Any]], *, title: str
) -> str:
    """The report of one ``detector evaluate`` run: its alerts and labels, with its summaries."""
    alerts, labels = simulated_alerts(scenario, seed, settings)
    return render_report(alerts, labels, summaries, title=title)
