"""The worker against the real local broker, through kafka-python, as in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from detector.kafka import (
    EventPublisher,
    KafkaSink,
    KafkaSource,
    TopicReader,
    changelog_topic,
    coordination_changelog_topic,
    create_topics,
)
from detector.pipeline.step import Detector
from detector.runner import RunStats, run_loop
from detector.settings import Settings
from tests.factories import benign_stream, bulk_distillation_stream, by_time, encode, event

pytestmark = pytest.mark.integration

TRAFFIC = by_time(benign_stream(60, 8), bulk_distillation_stream("acct_x", 2, 6, per_hour=400))


def publish(settings: Settings, documents: list[bytes], keys: list[bytes]) -> None:
    publisher = EventPublisher(settings)
    for key, value in zip(keys, documents, strict=True):
        publisher.send(key, value)
    publisher.close()


def read_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[tuple]:  # type: ignore[type-arg]
    """Read a topic from the start until ``expected`` records arrived (or the timeout)."""
    reader = TopicReader(settings, topic)
    records: list[tuple] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(reader.poll(timeout_ms=200))
    finally:
        reader.close()
    return records


class Worker:
    """`detector run`'s loop in a thread, stoppable like SIGTERM stops it."""

    def __init__(self, settings: Settings) -> None:
        self.detector = Detector(settings, clock=lambda: datetime(2026, 11, 25, tzinfo=UTC))
        self.stop = threading.Event()
        self.stats: RunStats | None = None
        self._source = KafkaSource(settings)
        self._sink = KafkaSink(settings)
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.stats = run_loop(self.detector, self._source, self._sink, self.stop)
        finally:
            self._sink.close()
            self._source.close()

    def wait_until(self, condition: Callable[[Detector], bool], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self.detector):
            assert time.monotonic() < deadline, "worker did not get there in time"
            assert self._thread.is_alive(), "worker thread died"
            time.sleep(0.05)

    def shutdown(self) -> RunStats:
        self.stop.set()
        self._thread.join(timeout=30)
        assert self.stats is not None
        return self.stats


def test_planted_campaign_produces_an_alert_on_the_alerts_topic(kafka_settings: Settings) -> None:
    """Events in → an alert for the distiller on the alerts topic, keyed by its account id."""
    create_topics(kafka_settings)
    publish(kafka_settings, [encode(e) for e in TRAFFIC], [e["account_id"].encode() for e in TRAFFIC])
    worker = Worker(kafka_settings)
    worker.wait_until(lambda d: d.events_processed >= len(TRAFFIC))
    stats = worker.shutdown()
    alerts = read_all(kafka_settings, kafka_settings.alerts_topic, expected=stats.alerts)
    assert stats.alerts >= 1
    assert {key for key, _, _ in alerts} == {b"acct_x"}
    document = orjson.loads(alerts[0][1])
    assert document["account_id"] == "acct_x" and document["schema_version"] == 1
    assert document["severity"] in {"low", "medium", "high", "critical"}


def test_invalid_messages_go_to_the_dlq_and_later_events_are_processed(kafka_settings: Settings) -> None:
    """Bad messages land on the DLQ with reasons and original bytes; valid ones after them count."""
    kafka_settings = kafka_settings.model_copy(update={"topic_partitions": 1})
    create_topics(kafka_settings)
    bad = [b"not json", encode(event(prompt_tokens=-3)), encode(event(schema_version=9)), b"[]"]
    good = [encode(event(f"acct_{i}")) for i in range(5)]
    publish(kafka_settings, bad + good, [b"k"] * (len(bad) + len(good)))
    worker = Worker(kafka_settings)
    worker.wait_until(lambda d: d.events_processed >= len(good))
    stats = worker.shutdown()
    dead = read_all(kafka_settings, kafka_settings.dlq_topic, expected=len(bad))
    assert stats.invalid == len(bad)
    assert [value for _, value, _ in dead] == bad
    reasons = [dict(headers)["detector.dlq.reason"] for _, _, headers in dead]
    assert reasons == [b"not_json", b"negative_tokens", b"unknown_schema_version", b"not_object"]
    assert all(
        dict(h)["detector.dlq.source.topic"] == kafka_settings.events_topic.encode() for _, _, h in dead
    )


def test_restart_resumes_from_committed_offsets_with_nothing_lost(kafka_settings: Settings) -> None:
    """Stop mid-stream, restart: every event is processed once more at most, none is lost, and
    an alert emitted again after the restart has the same alert_id as before."""
    create_topics(kafka_settings)
    documents = [encode(e) for e in TRAFFIC]
    keys = [e["account_id"].encode() for e in TRAFFIC]
    half = len(TRAFFIC) * 2 // 3
    publish(kafka_settings, documents[:half], keys[:half])
    first = Worker(kafka_settings)
    first.wait_until(lambda d: d.events_processed >= half)
    first_stats = first.shutdown()
    publish(kafka_settings, documents[half:], keys[half:])
    second = Worker(kafka_settings)
    second.wait_until(lambda d: d.events_processed >= len(TRAFFIC) - first_stats.events)
    second_stats = second.shutdown()
    # Nothing lost, nothing read twice: the offsets committed by the first worker were honoured.
    assert first_stats.events + second_stats.events == len(TRAFFIC)
    alerts = [
        orjson.loads(v)
        for _, v, _ in read_all(
            kafka_settings, kafka_settings.alerts_topic, expected=first_stats.alerts + second_stats.alerts
        )
    ]
    assert first_stats.alerts >= 1 and second_stats.alerts >= 1
    before = {a["alert_id"] for a in alerts[: first_stats.alerts] if a["account_id"] == "acct_x"}
    after = {a["alert_id"] for a in alerts[first_stats.alerts :] if a["account_id"] == "acct_x"}
    assert before & after, "the re-emitted alert should carry the episode's alert_id"


def test_create_topics_sizes_changelogs_and_verdicts_like_an_existing_events_topic(
    kafka_settings: Settings,
) -> None:
    """An events topic that already exists with another partition count (made by hand, or
    auto-created by a broker when a consumer subscribed first) gets changelogs and a verdicts
    topic with its count, so the worker can restore state for every partition it is given."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    admin.create_topics([NewTopic(kafka_settings.events_topic, num_partitions=3, replication_factor=1)])
    admin.close()
    create_topics(kafka_settings)  # topic_partitions is 2

    probe = KafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers, allow_auto_create_topics=False)
    try:
        counts = {
            name: len(probe.partitions_for_topic(name) or ())
            for name in (
                kafka_settings.events_topic,
                kafka_settings.verdicts_topic,
                changelog_topic(kafka_settings),
                coordination_changelog_topic(kafka_settings),
                kafka_settings.alerts_topic,
            )
        }
    finally:
        probe.close()
    assert counts == {
        kafka_settings.events_topic: 3,
        kafka_settings.verdicts_topic: 3,
        changelog_topic(kafka_settings): 3,
        coordination_changelog_topic(kafka_settings): 3,
        kafka_settings.alerts_topic: 2,
    }
