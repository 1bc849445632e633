"""Alert decision: thresholds, cooldown, escalation and deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime

from detector.events import Reason, Severity
from detector.pipeline.decide import AlertPolicy, alert_id_for, decide_one
from detector.pipeline.scoring import Assessment
from detector.pipeline.state import AccountState

POLICY = AlertPolicy(
    threshold=0.6, medium=0.7, high=0.8, critical=0.9, cooldown_seconds=6 * 3600, min_events=10
)
T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
REASON = Reason(signal="x", observed=1.0, baseline=0.0, explanation="x")


def decide(state: AccountState, score: float, at: float, requests: int = 100):  # type: ignore[no-untyped-def]
    return decide_one(
        state,
        Assessment(score=score, reasons=(REASON,)),
        policy=POLICY,
        at=at,
        window=(at - 3600, requests, requests * 1000),
        emitted_at=datetime(2026, 11, 25, tzinfo=UTC),
        detector_version="test",
    )


def test_below_threshold_or_too_few_events_gives_no_alert() -> None:
    """Scores under the threshold, or too few requests in the window, do not alert."""
    state = AccountState("acct", None, T0)
    assert decide(state, 0.59, T0) is None
    assert decide(state, 0.95, T0, requests=9) is None


def test_alerts_once_then_only_on_escalation_within_cooldown() -> None:
    """The same severity inside the cooldown is silent; a higher one re-emits the same alert_id."""
    state = AccountState("acct", "org", T0)
    first = decide(state, 0.65, T0)
    assert first is not None and first.severity is Severity.LOW and first.revision == 1
    assert decide(state, 0.66, T0 + 600) is None
    escalated = decide(state, 0.85, T0 + 1200)
    assert escalated is not None and escalated.severity is Severity.HIGH
    assert escalated.alert_id == first.alert_id and escalated.revision == 2
    assert decide(state, 0.7, T0 + 1800) is None  # lower than what was already sent


def test_after_cooldown_a_new_episode_gets_a_new_id() -> None:
    """Once the cooldown has passed, a still-suspicious account alerts again as a new episode."""
    state = AccountState("acct", None, T0)
    first = decide(state, 0.95, T0)
    later = decide(state, 0.95, T0 + 6 * 3600 + 1)
    assert first is not None and later is not None
    assert later.alert_id != first.alert_id and later.revision == 1


def test_alert_id_is_a_function_of_account_and_episode_bucket() -> None:
    """Two workers (or a restarted one) derive the same id from the same account and time."""
    a = decide(AccountState("acct", None, T0), 0.95, T0 + 10)
    b = decide(AccountState("acct", None, T0), 0.95, T0 + 20)
    c = decide(AccountState("other", None, T0), 0.95, T0 + 10)
    assert a is not None and b is not None and c is not None
    assert (
        a.alert_id == b.alert_id == alert_id_for("acct", "suspected_extraction", int((T0 + 10) // (6 * 3600)))
    )
    assert c.alert_id != a.alert_id


def test_alert_carries_window_and_event_time() -> None:
    """detected_at is the triggering event's time and the window counts are reported."""
    alert = decide(AccountState("acct", "org_9", T0), 0.91, T0 + 60)
    assert alert is not None
    assert alert.detected_at.timestamp() == T0 + 60
    assert (alert.window.requests, alert.window.tokens, alert.org_id) == (100, 100_000, "org_9")
    assert alert.severity is Severity.CRITICAL
