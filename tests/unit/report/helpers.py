"""Alerts and labels built by hand, small enough to check every figure the report derives."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from detector.events import Alert, AlertWindow, Reason, Severity
from detector.pipeline.step import Detector
from detector.report import Labels
from detector.settings import Settings
from tests.factories import benign_stream, by_time, encode, hydra_stream

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(
    account: str,
    minutes: float,
    *,
    alert_id: str | None = None,
    revision: int = 1,
    severity: Severity = Severity.HIGH,
    related: tuple[str, ...] = (),
    reasons: list[Reason] | None = None,
) -> Alert:
    coordinated = bool(related)
    return Alert(
        alert_id=alert_id or hashlib.sha256(account.encode()).hexdigest()[:32],
        revision=revision,
        account_id=account,
        org_id=None,
        detected_at=at(minutes),
        emitted_at=T0,
        score=0.9,
        severity=severity,
        category="coordinated_extraction" if coordinated else "suspected_extraction",
        reasons=reasons
        or (
            [
                Reason(
                    signal="coordinated_accounts",
                    observed=float(len(related) + 1),
                    baseline=1.0,
                    explanation=f"{len(related) + 1} accounts with extraction-like traffic share network, "
                    "template; 100% became active within 2 h of each other",
                )
            ]
            if coordinated
            else [
                Reason(
                    signal="cot_elicitation_share",
                    observed=0.8,
                    baseline=0.07,
                    explanation="80% ask for steps",
                )
            ]
        ),
        window=AlertWindow(start=at(minutes - 60), end=at(minutes), requests=10, tokens=1000),
        related_accounts=sorted(related),
        detector_version="test",
    )


@cache
def hydra_day() -> tuple[tuple[Alert, ...], tuple[str, ...]]:
    """The pipeline's own alerts on 30 benign accounts and a 10-account hydra, and the prompts
    that traffic sent (to show they never reach the report)."""
    detector = Detector(Settings(), clock=lambda: T0)
    traffic = by_time(benign_stream(30, 6), hydra_stream(10, 1, 5))
    alerts = tuple(found for event in traffic for found in detector.process_one(encode(event)).alerts)
    return alerts, tuple(sorted({event["prompt"] for event in traffic if event.get("prompt")}))


def labels(**extra: Any) -> Labels:
    """Campaign `camp_a` (attackers a1, a2 from minute 0), `camp_b` (b1 from minute 120), benign
    accounts of two kinds."""
    document = {
        "campaigns": [
            {
                "account_id": "a1",
                "campaign_id": "camp_a",
                "style": "hydra",
                "start": at(0).isoformat(),
                "end": at(300).isoformat(),
            },
            {
                "account_id": "a2",
                "campaign_id": "camp_a",
                "style": "hydra",
                "start": at(0).isoformat(),
                "end": at(300).isoformat(),
            },
            {
                "account_id": "b1",
                "campaign_id": "camp_b",
                "style": "low_and_slow",
                "start": at(120).isoformat(),
                "end": at(600).isoformat(),
            },
        ],
        "benign_kinds": {"n1": "benign", "n2": "benign", "s1": "shared_nat", "s2": "shared_nat"},
        **extra,
    }
    return Labels.from_document(document)
