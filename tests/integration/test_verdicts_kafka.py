"""Analyst verdicts through the real local broker: alert → false positive → closing revision,
no repeat alert (also after a restart from the changelog), bad verdicts on the DLQ."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from detector.kafka import EventPublisher, TopicReader, create_topics
from detector.settings import Settings
from tests.factories import bulk_distillation_stream, encode
from tests.integration.faults import WorkerThread

pytestmark = pytest.mark.integration


def publish(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    publisher = EventPublisher(settings.model_copy(update={"events_topic": topic}))
    for key, value in records:
        publisher.send(key, value)
    publisher.close()


def read(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    reader = TopicReader(settings, topic)
    try:
        out = []
        for _ in range(5):  # a few polls: everything already acknowledged is there
            out.extend(reader.poll(timeout_ms=300))
        return out
    finally:
        reader.close()


def alerts_of(settings: Settings, account: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(value)
        for key, value, _ in read(settings, settings.alerts_topic)
        if key == account.encode()
    ]


def events(stream: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return [(e["account_id"].encode(), encode(e)) for e in stream]


def test_a_false_positive_verdict_closes_the_alert_and_the_behaviour_alerts_no_more(
    kafka_settings: Settings,
) -> None:
    """Alert raised → false-positive verdict on the verdicts topic → closing revision of the same
    alert_id on the alerts topic; the same behaviour for 8 more hours (past the cooldown) raises
    no new alert, neither before nor after a restart from the changelog; a bad verdict is a
    dead letter with its reason."""
    settings = kafka_settings
    create_topics(settings)
    first = bulk_distillation_stream("acct_x", 1, 1, per_hour=400)
    publish(settings, settings.events_topic, events(first))
    worker = WorkerThread(settings)
    worker.wait_until(lambda: worker.detector.events_processed >= len(first), "first hour processed")
    worker.wait_until(lambda: bool(alerts_of(settings, "acct_x")), "alert on the topic", timeout_s=30)
    opened = alerts_of(settings, "acct_x")
    assert {a["status"] for a in opened} == {"open"}
    alert_id = opened[-1]["alert_id"]

    bad = orjson.dumps({"schema_version": 1, "account_id": "acct_x", "verdict": "meh"})
    good = orjson.dumps({"schema_version": 1, "alert_id": alert_id, "verdict": "false_positive"})
    publish(settings, settings.verdicts_topic, [(b"acct_x", bad), (b"acct_x", good)])
    worker.wait_until(
        lambda: any(a["status"] == "closed" for a in alerts_of(settings, "acct_x")),
        "closing revision on the topic",
        timeout_s=30,
    )
    closing = [a for a in alerts_of(settings, "acct_x") if a["status"] == "closed"]
    assert len(closing) == 1
    assert closing[0]["alert_id"] == alert_id
    assert closing[0]["revision"] == opened[-1]["revision"] + 1
    assert (closing[0]["status_reason"], closing[0]["verdict"]) == ("false_positive", "false_positive")

    dead = read(settings, settings.dlq_topic)
    assert [value for _, value, _ in dead] == [bad]
    headers = dict(dead[0][2])
    assert headers["detector.dlq.reason"] == b"invalid_verdict"
    assert headers["detector.dlq.source.topic"] == settings.verdicts_topic.encode()

    more = bulk_distillation_stream("acct_x", 2, 4, per_hour=400, seed=11)
    publish(settings, settings.events_topic, events(more))
    worker.wait_until(
        lambda: worker.detector.events_processed >= len(first) + len(more), "the same behaviour processed"
    )
    worker.shutdown()
    # A new worker restores the verdict from the changelog and keeps suppressing.
    later = bulk_distillation_stream("acct_x", 6, 4, per_hour=400, seed=12)
    publish(settings, settings.events_topic, events(later))
    restarted = WorkerThread(settings)
    restarted.wait_until(
        lambda: restarted.detector.events_processed >= len(later), "restarted worker caught up"
    )
    restarted.shutdown()
    after = alerts_of(settings, "acct_x")
    assert after[: len(opened) + 1] == [*opened, closing[0]]
    assert after[len(opened) + 1 :] == [], "the false-positive behaviour alerted again"
