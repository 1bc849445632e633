"""The feedback evaluation's bookkeeping: which alerts an analyst reviews, and what counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from detector.evaluate_feedback import FeedbackRun, measure, picked
from detector.events import Alert, AlertWindow, Severity

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def alert(
    account: str, at: float, status: Literal["open", "closed"] = "open", related: tuple[str, ...] = ()
) -> Alert:
    when = datetime.fromtimestamp(T0.timestamp() + at, tz=UTC)
    return Alert(
        alert_id=f"id-{account}-{at}",
        revision=1,
        account_id=account,
        org_id=None,
        detected_at=when,
        emitted_at=when,
        score=0.9,
        severity=Severity.HIGH,
        reasons=[],
        window=AlertWindow(start=when, end=when, requests=1, tokens=1),
        related_accounts=list(related),
        detector_version="test",
        status=status,
    )


def test_the_reviewed_share_is_deterministic_and_about_the_share() -> None:
    """Picking is a hash of the alert id: the same every run, close to the asked share."""
    ids = [f"alert-{i}" for i in range(2000)]
    chosen = [i for i in ids if picked(i, 0.5)]
    assert chosen == [i for i in ids if picked(i, 0.5)]
    assert 900 < len(chosen) < 1100
    assert not any(picked(i, 0.0) for i in ids)


def test_only_open_alerts_after_the_feedback_period_count() -> None:
    """FPR counts benign accounts alerted after the period; recall counts attackers named after
    their start (also as related accounts); closing revisions and earlier alerts do not count."""
    start = T0.timestamp()
    run = FeedbackRun("x")
    run.alerts = [
        alert("benign_1", 10.0),  # before the period's end: not counted
        alert("benign_2", 200.0),
        alert("benign_3", 200.0, status="closed"),
        alert("attacker_1", 150.0, related=("attacker_2",)),
        alert("attacker_3", 120.0),  # before its attack started
    ]
    attackers = {"attacker_1": start, "attacker_2": start, "attacker_3": start + 500}
    accounts = {"benign_1", "benign_2", "benign_3", "benign_4", *attackers}
    row = measure(run, attackers, accounts, since=start + 100)
    assert (row["benign_alerted"], row["fpr"]) == (1, 0.25)
    assert (row["attackers_caught"], row["attackers"]) == (2, 3)
    assert row["closing_revisions"] == 1
