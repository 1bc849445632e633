"""Scaled-out coordination: account workers publish fingerprints, `detector coordinate` clusters."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import orjson
import pytest

from detector.cli import coordination_settings
from detector.kafka import KafkaSink, KafkaSource, create_topics
from detector.pipeline.step import CoordinationProcessor
from detector.runner import run_loop
from detector.settings import Settings
from tests.factories import benign_stream, by_time, encode, hydra_stream
from tests.integration.test_worker_kafka import Worker, publish, read_all

pytestmark = pytest.mark.integration


def test_fingerprints_travel_through_a_topic_to_the_coordination_stage(kafka_settings: Settings) -> None:
    """With coordination_mode=topic the account stage publishes fingerprints and a separate
    coordination consumer turns a 10-account hydra into one campaign alert on the alerts topic."""
    settings = kafka_settings.model_copy(
        update={"coordination_mode": "topic", "fingerprints_topic": f"{kafka_settings.events_topic}-fp"}
    )
    create_topics(settings)
    traffic = by_time(benign_stream(30, 6), hydra_stream(10, 1, 5))
    publish(settings, [encode(e) for e in traffic], [e["account_id"].encode() for e in traffic])

    worker = Worker(settings)
    assert worker.detector.coordination is None  # the stage runs elsewhere in topic mode
    stage_settings = coordination_settings(settings)
    processor = CoordinationProcessor(stage_settings, clock=lambda: datetime(2026, 11, 25, tzinfo=UTC))
    stop = threading.Event()
    source, sink = KafkaSource(stage_settings), KafkaSink(stage_settings)
    stage = threading.Thread(target=run_loop, args=(processor, source, sink, stop))
    stage.start()
    try:
        worker.wait_until(lambda d: d.events_processed >= len(traffic))
        deadline = time.monotonic() + 60
        while not processor.stage.campaigns and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker_stats = worker.shutdown()
        stop.set()
        stage.join(timeout=30)
        sink.close()
        source.close()
    alerts = [
        orjson.loads(value)
        for _, value, _ in read_all(settings, settings.alerts_topic, expected=worker_stats.alerts + 1)
    ]
    campaigns = [a for a in alerts if a["category"] == "coordinated_extraction"]
    assert campaigns, "the coordination stage should have published a campaign alert"
    named = {campaigns[-1]["account_id"], *campaigns[-1]["related_accounts"]}
    assert len(named) >= 5
    assert all(account.startswith("acct_h") for account in named)
    assert len({a["alert_id"] for a in campaigns}) == 1
