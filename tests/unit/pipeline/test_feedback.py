"""An alert's life: closing revisions, analyst verdicts, the feedback learner, declarations."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from detector.events import Alert, Reason
from detector.pipeline.decide import AlertPolicy
from detector.pipeline.feedback import (
    FEEDBACK_FEATURES,
    AccountFeedback,
    AlertLifecycle,
    FeedbackModel,
    declared_peer_means,
    feedback_vector,
)
from detector.pipeline.scoring import Assessment, specific_terms
from detector.pipeline.snapshot import decode_account, encode_account
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector, SourceRef, StepResult
from detector.settings import Settings
from tests.factories import (
    START,
    benign_stream,
    bulk_distillation_stream,
    by_time,
    encode,
    event,
    hydra_stream,
)

FIXED_NOW = datetime(2026, 11, 25, tzinfo=UTC)
VERDICTS = Settings().verdicts_topic


def verdict(account: str, kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"schema_version": 1, "account_id": account, "verdict": kind, **fields})


def send_verdict(detector: Detector, raw: bytes, key: bytes | None = None) -> StepResult:
    return detector.process_one(raw, SourceRef(topic=VERDICTS, partition=None, offset=0, key=key))


def feed(detector: Detector, events: list[dict[str, Any]]) -> list[Alert]:
    alerts: list[Alert] = []
    for document in events:
        result = detector.process_one(encode(document))
        assert not result.dead_letters
        alerts.extend(result.alerts)
    return alerts


def new_detector(**overrides: Any) -> Detector:
    return Detector(Settings(**overrides), clock=lambda: FIXED_NOW)


def sparse(account: str, start_hour: float, hours: float, every_minutes: float = 20) -> list[dict[str, Any]]:
    """A few ordinary calls of one account (it is scored again, with nothing suspicious)."""
    out = []
    t = START + timedelta(hours=start_hour)
    while t < START + timedelta(hours=start_hour + hours):
        out.append(event(account, t, messages=3, prompt_tokens=900, completion_tokens=200))
        t += timedelta(minutes=every_minutes)
    return out


DISTILLER = bulk_distillation_stream("acct_x", 1, 2)
BACKGROUND = benign_stream(40, 12)


def test_an_idle_account_s_episode_closes_by_the_sweep_with_the_same_alert_id() -> None:
    """The distiller stops; other accounts' events carry the watermark past the close delay, and
    its episode gets one closing revision (same id, next revision, `subsided`)."""
    detector = new_detector()
    alerts = feed(detector, by_time(DISTILLER, BACKGROUND))
    mine = [a for a in alerts if a.account_id == "acct_x"]
    opened = [a for a in mine if a.status == "open"]
    closed = [a for a in mine if a.status == "closed"]
    assert opened
    assert len(closed) == 1
    last_open = max(opened, key=lambda a: a.revision)
    assert closed[0].alert_id == last_open.alert_id
    assert closed[0].revision == last_open.revision + 1
    assert closed[0].status_reason == "subsided"
    # Closed once the delay has passed since its last evidence (the distiller stopped at 3 h).
    delay = timedelta(seconds=Settings().close_after_seconds)
    assert last_open.detected_at + delay <= closed[0].detected_at <= START + timedelta(hours=3) + delay
    assert opened[0].evidence_since is not None


def test_an_episode_that_subsided_closes_when_the_account_is_next_scored() -> None:
    """Without other traffic, the account's own ordinary calls hours later close its episode."""
    detector = new_detector(close_after_seconds=3600.0)
    alerts = feed(detector, by_time(DISTILLER, sparse("acct_x", 5, 3)))
    closed = [a for a in alerts if a.status == "closed"]
    assert [a.status_reason for a in closed] == ["subsided"]
    assert all(a.status == "open" for a in alerts[: alerts.index(closed[0])])


def test_new_evidence_after_a_close_opens_a_new_episode_never_the_closed_one() -> None:
    """A distiller that returns after its episode closed gets a new alert_id at revision 1."""
    detector = new_detector(close_after_seconds=3600.0)
    later = bulk_distillation_stream("acct_x", 8.5, 1, seed=9)
    alerts = feed(detector, by_time(DISTILLER, sparse("acct_x", 5, 3), later))
    closed = next(a for a in alerts if a.status == "closed")
    after = [a for a in alerts[alerts.index(closed) + 1 :] if a.status == "open"]
    assert after
    assert after[0].alert_id != closed.alert_id
    assert after[0].revision == 1


def test_false_positive_closes_the_episode_and_suppresses_the_same_behaviour() -> None:
    """A false-positive verdict emits the closing revision; the unchanged behaviour that follows,
    past the cooldown, alerts no more."""
    detector = new_detector()
    first = feed(detector, bulk_distillation_stream("acct_x", 1, 1))
    assert first
    result = send_verdict(detector, verdict("acct_x", "false_positive", alert_id=first[-1].alert_id))
    assert len(result.alerts) == 1
    closing = result.alerts[0]
    assert (closing.status, closing.status_reason, closing.verdict) == (
        "closed",
        "false_positive",
        "false_positive",
    )
    assert (closing.alert_id, closing.revision) == (first[-1].alert_id, first[-1].revision + 1)
    # The same behaviour continues for 8 hours (beyond the 6 h cooldown): without the verdict it
    # would open a new episode.
    again = feed(detector, bulk_distillation_stream("acct_x", 2, 8, seed=5))
    assert [a for a in again if a.status == "open"] == []
    control = new_detector()
    feed(control, bulk_distillation_stream("acct_x", 1, 1))
    unverdicted = feed(control, bulk_distillation_stream("acct_x", 2, 8, seed=5))
    assert {a.alert_id for a in unverdicted if a.status == "open"} - {first[-1].alert_id}


def test_a_redelivered_verdict_changes_nothing() -> None:
    """Verdicts are applied at least once: the second copy emits no second closing revision."""
    detector = new_detector()
    first = feed(detector, bulk_distillation_stream("acct_x", 1, 1))
    raw = verdict("acct_x", "false_positive")
    assert len(send_verdict(detector, raw).alerts) == 1
    assert send_verdict(detector, raw).alerts == []
    assert detector.lifecycle.model.counts == [1, 0]
    assert first


def test_a_confirmed_verdict_is_published_and_the_episode_later_closes_as_resolved() -> None:
    """Confirmation adds a revision with the verdict (still open); subsidence then closes it
    with `confirmed_resolved`."""
    detector = new_detector(close_after_seconds=3600.0)
    first = feed(detector, bulk_distillation_stream("acct_x", 1, 1))
    result = send_verdict(detector, verdict("acct_x", "confirmed"))
    assert [(a.status, a.verdict, a.revision) for a in result.alerts] == [
        ("open", "confirmed", first[-1].revision + 1)
    ]
    closed = [a for a in feed(detector, sparse("acct_x", 3, 2)) if a.status == "closed"]
    assert [(a.status_reason, a.verdict) for a in closed] == [("confirmed_resolved", "confirmed")]


def test_bad_verdicts_become_dead_letters_with_a_reason_and_processing_goes_on() -> None:
    """Every way a verdict can be wrong is a dead letter with its own reason code."""
    detector = new_detector()
    cases = {
        b"{nope": "not_json",
        b"[1]": "not_json",
        orjson.dumps({"schema_version": 1, "account_id": "a", "verdict": "maybe"}): "invalid_verdict",
        orjson.dumps({"schema_version": 1, "kind": "declaration", "account_id": "a", "workload": "router"}): (
            "invalid_declaration"
        ),
        orjson.dumps({"schema_version": 1, "kind": "mood", "account_id": "a"}): "unknown_kind",
        orjson.dumps({"schema_version": 1, "verdict": "confirmed"}): "no_account",
    }
    for raw, reason in cases.items():
        result = send_verdict(detector, raw)
        assert [d.reason for d in result.dead_letters] == [reason], raw
        assert result.dead_letters[0].raw == raw
    mismatch = send_verdict(detector, verdict("acct_a", "confirmed"), key=b"acct_b")
    assert [d.reason for d in mismatch.dead_letters] == ["account_key_mismatch"]
    keyed = send_verdict(
        detector, orjson.dumps({"schema_version": 1, "verdict": "allowlisted"}), key=b"acct_k"
    )
    assert keyed.dead_letters == []
    assert feed(detector, [event()]) == []


def _assessment(score: float, top: str) -> Assessment:
    return Assessment(score=score, reasons=(Reason(signal=top, observed=1, baseline=0, explanation=""),))


def _suppressing_state(until: float = math.inf) -> AccountState:
    state = AccountState("acct_s", None, 0.0)
    state.feedback = AccountFeedback(
        verdict="false_positive",
        verdict_until=until,
        verdict_score=0.7,
        verdict_signals="template_repeat_share,single_turn_share",
    )
    return state


def test_suppression_lifts_on_a_material_change_or_expiry_and_not_otherwise() -> None:
    """Same signals at a similar score stay suppressed; a clearly higher score, a new top signal
    or the verdict's expiry lift the suppression."""
    lifecycle = AlertLifecycle(Settings(), AlertPolicy.from_settings(Settings()), "test")
    assert lifecycle.suppressed(_suppressing_state(), _assessment(0.75, "template_repeat_share"), 10.0)
    higher = 1 / (1 + math.exp(-(math.log(0.7 / 0.3) + 1.1)))
    assert not lifecycle.suppressed(_suppressing_state(), _assessment(higher, "template_repeat_share"), 10.0)
    assert not lifecycle.suppressed(_suppressing_state(), _assessment(0.72, "distillation_shape"), 10.0)
    assert not lifecycle.suppressed(
        _suppressing_state(until=5.0), _assessment(0.72, "single_turn_share"), 10.0
    )


def test_an_allowlist_with_until_lapses_at_that_event_time() -> None:
    """An allowlisted distiller is silent until `until`, then alerts again."""
    detector = new_detector()
    feed(detector, bulk_distillation_stream("acct_x", 1, 1))
    until = START + timedelta(hours=4)
    send_verdict(detector, verdict("acct_x", "allowlisted", until=until.isoformat()))
    later = feed(detector, bulk_distillation_stream("acct_x", 2, 4, seed=4))
    opened = [a for a in later if a.status == "open"]
    assert opened
    assert min(a.detected_at for a in opened) >= until


def test_the_feedback_learner_moves_scores_towards_verdicts_within_its_cap() -> None:
    """Score before learn; after verdicts, a benign-like vector scores below 0 and an attack-like
    one above, never beyond the cap; with too few verdicts it says nothing."""
    model = FeedbackModel(max_logodds=1.5, min_examples=4)
    benign = tuple(0.9 if name == "template_repeat_share" else 0.0 for name in FEEDBACK_FEATURES)
    attack = tuple(
        0.9 if name in {"distillation_shape", "cot_elicitation_share"} else 0.0 for name in FEEDBACK_FEATURES
    )
    assert model.score_one(attack) == 0.0
    for i in range(3):
        model.learn_one(benign, False, f"b{i}")
        model.learn_one(attack, True, f"a{i}")
    assert model.learn_one(attack, True, "a0") is False  # the same verdict is learned once
    assert -1.5 <= model.score_one(benign) < -0.1
    assert 0.1 < model.score_one(attack) <= 1.5


def test_the_feedback_term_is_an_explained_reason() -> None:
    """The learner's term appears as `analyst_feedback` and moves the score its way."""
    settings = Settings(feedback_min_examples=2)
    lifecycle = AlertLifecycle(settings, AlertPolicy.from_settings(settings), "test")
    features = {"template_repeat_share": 0.9, "single_turn_share": 1.0}
    other = {"distillation_shape": 0.9, "cot_elicitation_share": 0.9}
    for i in range(4):
        lifecycle.model.learn_one(tuple(_vector(features)), False, f"b{i}")
        lifecycle.model.learn_one(tuple(_vector(other)), True, f"a{i}")
    adjusted = lifecycle.adjust(_assessment(0.65, "template_repeat_share"), features)
    assert adjusted.score < 0.65
    assert adjusted.reasons[-1].signal == "analyst_feedback"
    assert adjusted.reasons[-1].observed < 0


def _vector(features: dict[str, float]) -> list[float]:
    return list(feedback_vector(features))


def test_verdicts_and_the_learner_survive_a_checkpoint_and_restore() -> None:
    """Account feedback round-trips through the changelog encoding; a restored partition
    re-teaches a fresh detector's learner and keeps suppressing."""
    detector = new_detector()
    feed(detector, bulk_distillation_stream("acct_x", 1, 1))
    send_verdict(detector, verdict("acct_x", "false_positive"))
    state = detector.partition(None).accounts.get("acct_x")
    assert state is not None and state.feedback is not None
    again = decode_account("acct_x", encode_account(state))
    assert again.feedback == state.feedback
    fresh = new_detector()
    fresh.restore_partition(None, [again])
    assert fresh.lifecycle.model.counts == [1, 0]
    later = feed(fresh, bulk_distillation_stream("acct_x", 2, 8, seed=5))
    assert [a for a in later if a.status == "open"] == []


def test_a_declaration_discounts_what_the_kind_shows_but_not_the_distillation_pattern() -> None:
    """Declared as an eval harness, templated single-turn traffic is no evidence; the
    distillation shape still is."""
    features = {
        "template_repeat_share": 0.95,
        "single_turn_share": 1.0,
        "instruction_style_share": 0.7,
        "distillation_shape": 0.8,
        "log_completion_tokens": math.log1p(3000),
        "log_output_input_ratio": 3.0,
        "distillation_calls_per_hour": 0.0,
        "distillation_call_share": 0.0,
        "distillation_run_after_history": 0.0,
        "harvest_call_share": 0.0,
        "calls_per_hour": 10.0,
        "history_hours": 1.0,
        "logit_bias_sweep": 0.0,
        "recent_calls": 100.0,
    }
    plain = {reason.signal for _, reason in specific_terms(features, {}, -1.0)}
    declared = {
        reason.signal for _, reason in specific_terms(features, declared_peer_means({}, "eval_harness"), -1.0)
    }
    assert {"template_repeat_share", "single_turn_share"} <= plain
    assert not declared & {"template_repeat_share", "single_turn_share", "instruction_style_share"}
    assert "distillation_shape" in declared


def _declare(detector: Detector, account: str, workload: str) -> None:
    until = (START + timedelta(days=30)).isoformat()
    raw = orjson.dumps(
        {
            "schema_version": 1,
            "kind": "declaration",
            "account_id": account,
            "workload": workload,
            "until": until,
        }
    )
    assert send_verdict(detector, raw).dead_letters == []


def test_a_declared_workload_still_alerts_on_distillation_and_says_it_was_declared() -> None:
    """A distiller declared as an eval harness still alerts, with `declared_workload` set."""
    detector = new_detector()
    _declare(detector, "acct_x", "eval_harness")
    alerts = feed(detector, bulk_distillation_stream("acct_x", 1, 2))
    opened = [a for a in alerts if a.status == "open"]
    assert opened
    assert {a.declared_workload for a in opened} == {"eval_harness"}


def test_declared_routers_with_a_hydra_inside_and_verdicts_on_members_are_still_a_campaign() -> None:
    """Neither router declarations nor false-positive verdicts on every member silence the
    coordinated campaign the members show together."""
    hydra = hydra_stream(8, 1, 5)
    members = sorted({e["account_id"] for e in hydra})
    baseline = [
        a
        for a in feed(new_detector(), by_time(benign_stream(30, 6), hydra))
        if a.category == "coordinated_extraction"
    ]
    detector = new_detector()
    for account in members:
        _declare(detector, account, "router")
        send_verdict(detector, verdict(account, "false_positive"))
    campaign = [
        a
        for a in feed(detector, by_time(benign_stream(30, 6), hydra))
        if a.category == "coordinated_extraction"
    ]
    assert baseline
    assert campaign
    assert len({*campaign[-1].related_accounts, campaign[-1].account_id}) >= 4


def test_a_new_episode_after_the_cooldown_closes_the_one_before_as_superseded() -> None:
    """A distiller still at it after the cooldown opens a new episode, and the previous one gets
    its closing revision (`superseded`) just before it, so no episode is left open."""
    alerts = feed(new_detector(), bulk_distillation_stream("acct_x", 1, 14))
    ids = list(dict.fromkeys(a.alert_id for a in alerts))
    assert len(ids) >= 2
    for earlier, later in itertools.pairwise(ids):
        closing = [a for a in alerts if a.alert_id == earlier and a.status == "closed"]
        assert [a.status_reason for a in closing] == ["superseded"]
        assert alerts.index(closing[0]) + 1 == alerts.index(next(a for a in alerts if a.alert_id == later))
