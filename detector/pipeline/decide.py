"""Score → alert or nothing, with severity, cooldown and a deterministic ``alert_id``.

An account alerts once per episode; within the episode it alerts again only when its severity
rises (same ``alert_id``, next ``revision``). After ``cooldown_seconds`` of event time a still
suspicious account opens a new episode. The ``alert_id`` is a hash of (account, category,
event-time bucket of the episode start), so re-processing the same events after a crash or a
redelivery yields the same id and downstream can recognise the duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from detector.events import Alert, AlertWindow, Severity
from detector.pipeline.scoring import Assessment
from detector.pipeline.signals.subaccounts import parent_account
from detector.pipeline.state import AccountState
from detector.settings import Settings

CATEGORY = "suspected_extraction"
MAX_REASONS = 5


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Thresholds of the fused score and the re-alert rule, taken from the settings."""

    threshold: float
    medium: float
    high: float
    critical: float
    cooldown_seconds: float
    min_events: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(
            threshold=settings.alert_threshold,
            medium=settings.severity_medium,
            high=settings.severity_high,
            critical=settings.severity_critical,
            cooldown_seconds=settings.cooldown_seconds,
            min_events=settings.min_events_to_alert,
        )

    def severity(self, score: float) -> Severity | None:
        if score >= self.critical:
            return Severity.CRITICAL
        if score >= self.high:
            return Severity.HIGH
        if score >= self.medium:
            return Severity.MEDIUM
        if score >= self.threshold:
            return Severity.LOW
        return None


def alert_id_for(account_id: str, category: str, bucket: int) -> str:
    """Deterministic episode id: same account, category and bucket ⇒ same id, on any worker."""
    digest = hashlib.sha256(f"{account_id}\x1f{category}\x1f{bucket}".encode()).hexdigest()
    return digest[:32]


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def decide_one(
    state: AccountState,
    assessment: Assessment,
    *,
    policy: AlertPolicy,
    at: float,
    window: tuple[float, int, int],
    emitted_at: datetime,
    detector_version: str,
    related_accounts: list[str] | None = None,
    episode_closed: bool = False,
) -> Alert | None:
    """Return the alert to publish for this assessment, or None; updates the account's episode.

    ``episode_closed``: the account's last episode was closed (pipeline/feedback.py), so new
    evidence opens a new episode, never a revision of the closed one, whose id is not reused.
    """
    severity = policy.severity(assessment.score)
    window_start, requests, tokens = window
    if severity is None or requests < policy.min_events:
        return None
    in_cooldown = (
        not episode_closed
        and state.alert_id is not None
        and at - state.last_alert_at < policy.cooldown_seconds
    )
    if in_cooldown:
        if severity.rank <= state.alert_severity_rank:
            return None
        state.alert_revision += 1
    else:
        bucket = int(at // policy.cooldown_seconds)
        if episode_closed and bucket <= state.alert_bucket:
            bucket = state.alert_bucket + 1  # a closed alert_id is never reopened
        state.alert_bucket = bucket
        state.alert_id = alert_id_for(state.account_id, CATEGORY, state.alert_bucket)
        state.alert_revision = 1
    state.alert_severity_rank = severity.rank
    state.last_alert_at = at
    assert state.alert_id is not None  # set above on every path that reaches here
    return Alert(
        alert_id=state.alert_id,
        revision=state.alert_revision,
        account_id=parent_account(state.account_id, state.end_user_id),
        org_id=state.org_id,
        detected_at=_utc(at),
        emitted_at=emitted_at,
        score=round(assessment.score, 4),
        severity=severity,
        reasons=list(assessment.reasons[:MAX_REASONS]),
        window=AlertWindow(start=_utc(window_start), end=_utc(at), requests=requests, tokens=tokens),
        related_accounts=related_accounts or [],
        detector_version=detector_version,
        end_user_id=state.end_user_id,
        evidence_since=_utc(assessment.evidence_since) if assessment.evidence_since >= 0 else None,
    )
