"""`detector run` as an operator starts it: a process, configured by DETECTOR_* variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from kafka import KafkaConsumer, TopicPartition

from detector.broker import free_port
from detector.kafka import EventPublisher, create_topics
from detector.settings import Settings
from tests.factories import benign_stream, encode

pytestmark = pytest.mark.integration


def committed_total(settings: Settings) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id, enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.topic_partitions)]
        return sum(consumer.committed(tp) or 0 for tp in partitions)
    finally:
        consumer.close(autocommit=False)


def test_sigterm_finishes_commits_and_exits_zero(kafka_settings: Settings) -> None:
    """SIGTERM mid-stream: exit code 0, offsets committed for what was processed, readiness served."""
    create_topics(kafka_settings)
    events = benign_stream(30, 6)
    publisher = EventPublisher(kafka_settings)
    for document in events:
        publisher.send(document["account_id"].encode(), encode(document))
    publisher.close()
    port = free_port()
    env = {
        **os.environ,
        **{f"DETECTOR_{k.upper()}": str(v) for k, v in kafka_settings.model_dump().items() if v is not None},
        "DETECTOR_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "detector", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    ready = response.status == 200
            except OSError:
                time.sleep(0.2)
        assert ready, "worker never became ready"
        while committed_total(kafka_settings) < len(events) and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert committed_total(kafka_settings) == len(events)
    assert b'"worker_stopped"' in stderr
