"""Alerts of every kind the formats must render: one account, a campaign, an escalation, a closed
episode, a suppressed one, one behind a router (builders, not fixtures: tests pick and tweak)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from detector.events import Alert, AlertWindow, Reason, Severity

DETECTED = datetime(2026, 11, 25, 3, 15, 42, 123_456, tzinfo=UTC)
EMITTED = datetime(2026, 11, 25, 5, 15, 43, 500_000, tzinfo=timezone(timedelta(hours=2)))

REASONS = [
    Reason(
        signal="distillation_shape",
        observed=0.81,
        baseline=0.04,
        explanation="81% of calls are templated single-turn reasoning tasks with long answers",
    ),
    Reason(signal="calls_per_hour", observed=412.0, baseline=38.0, explanation="412 calls/h vs 38 at p90."),
]


def alert(**overrides: Any) -> Alert:
    """A single-account, first-revision, open alert; ``overrides`` change any field."""
    fields: dict[str, Any] = {
        "alert_id": "9f2c4e6a1b3d5f70",
        "revision": 1,
        "account_id": "acct_x",
        "org_id": "org_7",
        "detected_at": DETECTED,
        "emitted_at": EMITTED,
        "score": 0.834,
        "severity": Severity.HIGH,
        "reasons": REASONS,
        "window": AlertWindow(
            start=DETECTED - timedelta(hours=6), end=DETECTED, requests=2_480, tokens=3_100_000
        ),
        "detector_version": "0.1.0",
    }
    fields.update(overrides)
    return Alert(**fields)


def campaign(**overrides: Any) -> Alert:
    """A coordinated campaign: the earliest member as ``account_id``, the others related."""
    fields: dict[str, Any] = {
        "category": "coordinated_extraction",
        "account_id": "acct_h1",
        "related_accounts": ["acct_h2", "acct_h3", "acct_h4"],
        "reasons": [
            Reason(signal="coordinated_accounts", observed=4.0, baseline=1.0, explanation="4 accounts"),
            *REASONS,
        ],
    }
    fields.update(overrides)
    return alert(**fields)


SCENARIOS: dict[str, Alert] = {
    "single_account": alert(),
    "campaign": campaign(),
    "campaign_growth": campaign(revision=3, related_accounts=["acct_h2", "acct_h3", "acct_h4", "acct_h5"]),
    "escalation": alert(revision=2, severity=Severity.CRITICAL, score=0.93),
    "closed": alert(revision=4, status="closed", status_reason="subsided"),
    "confirmed_open": alert(revision=2, verdict="confirmed"),
    "confirmed_closed": alert(revision=3, verdict="confirmed", status="closed", status_reason="resolved"),
    "false_positive": alert(
        revision=2, verdict="false_positive", status="closed", status_reason="false_positive"
    ),
    "allowlisted": alert(revision=2, verdict="allowlisted", declared_workload="eval_harness"),
    "router_end_user": alert(
        end_user_id="eu_5521", org_id=None, evidence_since=DETECTED - timedelta(hours=2)
    ),
    "low_no_reasons": alert(severity=Severity.LOW, score=0.61, reasons=[]),
}
