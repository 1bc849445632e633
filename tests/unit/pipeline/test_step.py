"""The whole pipeline on a list of events, no broker: what production and replay both run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from detector.events import Alert
from detector.pipeline.step import Detector
from detector.settings import Settings
from tests.factories import START, benign_stream, bulk_distillation_stream, by_time, encode, event

FIXED_NOW = datetime(2026, 11, 25, tzinfo=UTC)


def run(events: list[dict[str, object]], settings: Settings | None = None) -> tuple[Detector, list[Alert]]:
    detector = Detector(settings or Settings(), clock=lambda: FIXED_NOW)
    alerts: list[Alert] = []
    for document in events:
        result = detector.process_one(encode(document))
        assert not result.dead_letters
        alerts.extend(result.alerts)
    return detector, alerts


TRAFFIC = by_time(benign_stream(150, 10), bulk_distillation_stream("acct_x", 3, 7))


def test_bulk_distillation_is_caught_and_benign_accounts_are_not() -> None:
    """The planted distiller alerts within its first hour; no ordinary account alerts."""
    _, alerts = run(TRAFFIC)
    alerted = {a.account_id for a in alerts}
    assert "acct_x" in alerted
    assert alerted == {"acct_x"}
    first = min(a.detected_at for a in alerts if a.account_id == "acct_x")
    assert (first - datetime(2026, 11, 2, 3, tzinfo=UTC)).total_seconds() < 3600


def test_replaying_the_same_events_gives_the_same_alerts() -> None:
    """Determinism: same events and settings ⇒ same alert ids, revisions and scores."""
    _, first = run(TRAFFIC)
    _, second = run(TRAFFIC)
    assert [a.model_dump() for a in first] == [a.model_dump() for a in second]


def test_redelivered_events_are_not_counted_twice() -> None:
    """Sending every event twice yields the same alerts as once, and flags the copies."""
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    duplicates = 0
    alerts: list[Alert] = []
    for document in TRAFFIC:
        raw = encode(document)
        for _ in range(2):
            result = detector.process_one(raw)
            duplicates += result.duplicate
            alerts.extend(result.alerts)
    _, once = run(TRAFFIC)
    assert duplicates == len(TRAFFIC)
    assert [a.alert_id for a in alerts] == [a.alert_id for a in once]


def test_invalid_event_in_the_middle_does_not_stop_processing() -> None:
    """A bad message becomes a dead letter; the events after it are processed."""
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    results = [detector.process_one(raw) for raw in (encode(event()), b"{oops", encode(event()))]
    assert [len(r.dead_letters) for r in results] == [0, 1, 0]
    assert detector.events_processed == 2
    assert results[1].dead_letters[0].reason == "not_json"


def test_alerts_contain_no_prompt_text() -> None:
    """No alert field carries any prompt text the detector saw."""
    _, alerts = run(TRAFFIC)
    serialized = "".join(a.model_dump_json() for a in alerts)
    assert alerts
    assert "Think step by step and show your reasoning" not in serialized
    assert "Answer the following task" not in serialized


def test_state_is_scoped_per_partition_and_offsets_already_applied_are_skipped() -> None:
    """An account lives in its partition's store; replaying an applied offset changes nothing."""
    from detector.pipeline.step import SourceRef

    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    raw = encode(event("acct_p"))
    first = detector.process_one(raw, SourceRef(topic="t", partition=3, offset=10))
    again = detector.process_one(encode(event("acct_p")), SourceRef(topic="t", partition=3, offset=10))
    assert not first.duplicate and again.duplicate
    assert set(detector.partitions) == {3}
    assert detector.partitions[3].accounts.get("acct_p") is not None
    detector.drop_partition(3)
    assert detector.tracked_accounts == 0


def _template_keys(detector: Detector, events: list[dict[str, object]]) -> set[int]:
    keys: set[int] = set()
    for document in events:
        for fingerprint in detector.process_one(encode(document)).fingerprints:
            keys |= {value for kind, value in fingerprint.keys if kind == "template"}
    return keys


def test_fingerprints_leave_out_templates_that_ordinary_accounts_commonly_use() -> None:
    """A prompt head shared by many unsuspicious accounts is a common phrasing, not a link."""
    distiller = bulk_distillation_stream("acct_x", 0, 2)
    templates = _template_keys(Detector(Settings(), clock=lambda: FIXED_NOW), distiller)
    assert templates  # the distiller's repeated templates are published...

    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    for _ in range(5):  # ...unless ordinary accounts have been seen using the same heads
        detector.templates.learn_one(sorted(templates), suspicious=False)
    assert _template_keys(detector, distiller) == set()


def test_a_distiller_padding_every_prompt_past_64_kib_is_still_caught() -> None:
    """Padding is no free pass: 100 KB prompts are valid events, scored on their bounded slice."""
    padded = [
        {**document, "prompt": "filler text " * 8_500 + str(document["prompt"])}
        for document in bulk_distillation_stream("acct_x", 3, 2)
    ]
    assert len(encode(padded[0])) > 100_000
    _, alerts = run(by_time(benign_stream(150, 6), padded))
    assert any(alert.account_id == "acct_x" for alert in alerts)


def test_a_distilling_end_user_inside_a_router_is_named() -> None:
    """A router passes end-user ids: one distilling user among 150 ordinary ones alerts on the
    router's account with that end user named; without the ids the user cannot be named."""
    users = [
        {**document, "account_id": "acct_router", "end_user_id": f"user_{document['account_id']}"}
        for document in benign_stream(150, 8)
    ]
    distiller = [
        {**document, "account_id": "acct_router", "end_user_id": "user_bad"}
        for document in bulk_distillation_stream("x", 4, 4, per_hour=80)
    ]
    others = benign_stream(60, 8, seed=3)
    _, alerts = run(by_time(users, distiller, others))
    named = [alert for alert in alerts if alert.end_user_id is not None]
    assert named
    assert {alert.account_id for alert in named} == {"acct_router"}
    assert {alert.end_user_id for alert in named} == {"user_bad"}
    _, without = run(by_time(users, distiller, others), Settings(score_end_users=False))
    assert all(alert.end_user_id is None for alert in without)


def test_a_query_set_of_bare_passages_is_caught() -> None:
    """An account sending 150 encyclopedia-style sentences that ask nothing, one per call, alerts
    (on the bare-item evidence); the ordinary accounts beside it do not."""
    rng = random.Random(11)
    things = ["bridge", "river", "cathedral", "treaty", "volcano", "railway", "painting", "festival"]
    places = ["Lisbon", "Kyoto", "Lagos", "Quito", "Oslo", "Perth", "Cusco", "Tallinn", "Hanoi"]
    queries = [
        event(
            "acct_query",
            START + timedelta(hours=2, seconds=40 * i),
            prompt=f"The {rng.choice(things)} of {rng.choice(places)} was completed in "
            f"{rng.randint(1200, 1990)} and is noted for its {rng.choice(['stone', 'iron', 'glass'])} work.",
            prompt_tokens=rng.randint(20, 40),
            completion_tokens=rng.randint(150, 400),
            params={"temperature": 0.0, "max_tokens": 512},
        )
        for i in range(150)
    ]
    _, alerts = run(by_time(benign_stream(150, 6), queries))
    caught = [alert for alert in alerts if alert.account_id == "acct_query"]
    assert caught
    assert any(reason.signal == "bare_item_share" for reason in caught[0].reasons)
    assert {alert.account_id for alert in alerts} == {"acct_query"}


def test_fingerprints_leave_out_infrastructure_that_ordinary_accounts_share() -> None:
    """A distiller calling through the SDK user agent and the NAT network that 120 ordinary
    accounts use too: its fingerprints carry neither (they would link it to anyone), but keep
    its own system prompt and rare request profile."""
    import zlib

    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    distiller = [
        {**e, "system_prompt_hash": "sp-distiller"}
        for e in bulk_distillation_stream("acct_x", 3, 4, per_hour=300)
    ]
    fingerprints = []
    for document in by_time(benign_stream(120, 8), distiller):
        fingerprints += detector.process_one(encode(document)).fingerprints
    mine = [f for f in fingerprints if f.account_id == "acct_x"]
    assert mine, "the distiller must reach the coordination stage"
    kinds = {kind for kind, _ in mine[-1].keys}
    assert ("user_agent", zlib.crc32(b"openai-python/1.54.0")) not in mine[-1].keys
    assert "network" not in kinds
    assert {"system_prompt", "profile"} <= kinds


def test_inline_campaigns_wait_for_the_partition_read_least_far() -> None:
    """Inline coordination spans a worker's events partitions: the time it may close campaigns
    on is the least event time read in any partition that still has records to read (one never
    read counts as not read at all), and unbounded once every partition is read to its end."""
    detector = Detector(Settings(coordination_mode="inline"), clock=lambda: FIXED_NOW)
    ahead, behind = detector.partition(0), detector.partition(1)
    ahead.episodes.watermark, behind.episodes.watermark = 50_000.0, 20_000.0
    detector.set_unread_partitions(frozenset({0, 1}))
    assert detector._read_until() == 20_000.0
    detector.set_unread_partitions(frozenset({0}))
    assert detector._read_until() == 50_000.0
    detector.set_unread_partitions(frozenset({0, 2}))
    assert detector._read_until() == float("-inf")
    detector.set_unread_partitions(frozenset())
    assert detector._read_until() == float("inf")
