"""An alerts topic that does not acknowledge: the worker stops consuming instead of buffering or
dropping, and delivers everything once the topic recovers."""

from __future__ import annotations

from collections import Counter

import pytest

from detector.kafka import create_topics
from detector.metrics import DELIVERING
from detector.settings import Settings
from tests.factories import benign_stream, bulk_distillation_stream, by_time
from tests.integration.faults import (
    PRODUCE,
    Gateway,
    RecordingDetector,
    WorkerThread,
    broker_behind_stall,
    committed,
    read_topic,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
TRAFFIC = by_time(benign_stream(30, 8, seed=21), bulk_distillation_stream("acct_x", 1, 7, per_hour=300))


def test_unacknowledged_alerts_pause_consumption_and_nothing_is_dropped(kafka_settings: Settings) -> None:
    """While the broker holds every produce request to the alerts topic (slow, then failing:
    the producer's delivery timeout runs out), the worker retries with backoff, reports not
    ready, keeps at most one batch in hand and consumes nothing more; once the topic
    acknowledges again, every alert it decided on is on the topic and every event committed."""
    with broker_behind_stall(PRODUCE, kafka_settings.alerts_topic) as (bootstrap, stall):
        settings = kafka_settings.model_copy(
            update={
                "bootstrap_servers": bootstrap,
                "topic_partitions": PARTITIONS,
                "max_poll_records": 200,
                "cooldown_seconds": 1800,
                "retry_backoff_ms": 100,
                "retry_backoff_max_ms": 1000,
                "producer_delivery_timeout_ms": 3000,
            }
        )
        create_topics(settings)
        gateway = Gateway(settings, PARTITIONS)
        first = len(TRAFFIC) // 3
        gateway.send(TRAFFIC[:first])
        detector = RecordingDetector(settings)
        worker = WorkerThread(settings, detector)
        try:
            worker.wait_until(lambda: sum(committed(settings, PARTITIONS).values()) == first, "first third")
            assert detector.alerts, "the attacker should have alerted before the fault"

            stall.engaged.set()
            gateway.send(TRAFFIC[first:])

            def retries() -> float:
                return worker.counter("detector_kafka_retries_total", operation="alerts")

            worker.wait_until(lambda: retries() >= 2, "alert deliveries failing and retried")
            held_at, retries_at = detector.events_processed, retries()
            worker.wait_until(lambda: retries() >= retries_at + 2, "two more retries")
            # Stopped consuming: nothing processed meanwhile although most of the stream waits.
            assert detector.events_processed == held_at < len(TRAFFIC)
            assert 0 < worker.worker.sink.pending <= settings.max_poll_records
            assert DELIVERING in worker.metrics.failing_conditions()
            assert worker.metrics.alive
            assert stall.held > 0

            stall.engaged.clear()
            worker.wait_until(
                lambda: committed(settings, PARTITIONS) == {p: len(v) for p, v in gateway.sent.items()},
                "everything committed once the alerts topic acknowledges again",
            )
            assert worker.metrics.is_ready
            stats = worker.shutdown()
        finally:
            if worker.alive:
                worker.stop.set()
            gateway.close()
        records = read_topic(settings, settings.alerts_topic)

    on_topic = Counter((r.headers["alert_id"].decode(), int(r.headers["revision"])) for r in records)
    decided = {(a.alert_id, a.revision) for a in detector.alerts}
    assert len(decided) == stats.alerts
    assert decided <= set(on_topic), f"alerts dropped: {decided - set(on_topic)}"
    print(
        f"\nFIGURES backpressure: events={len(TRAFFIC)} processed={stats.events} alerts decided={stats.alerts} "
        f"on topic={sum(on_topic.values())} duplicates={sum(n - 1 for n in on_topic.values())} "
        f"held produce requests={stall.held} alert retries={worker.counter('detector_kafka_retries_total', operation='alerts'):.0f}"
    )
