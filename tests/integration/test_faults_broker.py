"""The broker stops and comes back: the same worker process waits it out and carries on.

The bundled broker keeps everything in memory, so a restart loses topics, offsets and the state
changelog (docs/operations.md, "Test broker"). The test therefore restarts it on the same port,
recreates the topics, and checks the worker's own recovery path: backoff while it is down, not
ready meanwhile, rejoining and resuming on the new broker without a process restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import orjson
import pytest

from detector.broker import LocalBroker
from detector.kafka import create_topics
from detector.metrics import BROKER
from detector.settings import Settings
from tests.factories import benign_stream, bulk_distillation_stream, by_time
from tests.integration.faults import Gateway, WorkerThread, committed, final_changelog, read_topic

pytestmark = pytest.mark.integration

PARTITIONS = 2
BEFORE = by_time(benign_stream(30, 4, seed=11), bulk_distillation_stream("acct_x", 1, 3, per_hour=300))
AFTER = by_time(benign_stream(30, 4, seed=12), bulk_distillation_stream("acct_y", 1, 3, per_hour=300, seed=4))


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    """A broker of this test's own: it is stopped and restarted, which would break the others."""
    broker = LocalBroker().start()
    yield broker
    broker.stop()


def test_worker_rides_out_a_broker_restart_without_restarting(
    kafka_settings: Settings, private_broker: LocalBroker
) -> None:
    """Broker down: the worker stays alive, reports not ready (broker unreachable) and retries
    with backoff; broker back with the topics recreated: the same worker rejoins, and every event
    sent afterwards is processed, counted in state and alerted on."""
    settings = kafka_settings.model_copy(
        update={
            "bootstrap_servers": private_broker.bootstrap,
            "topic_partitions": PARTITIONS,
            "retry_backoff_ms": 100,
            "retry_backoff_max_ms": 1000,
        }
    )
    create_topics(settings)
    gateway = Gateway(settings, PARTITIONS)
    gateway.send(BEFORE)
    gateway.close()
    worker = WorkerThread(settings)
    restarted: LocalBroker | None = None
    try:
        expected = {p: len(v) for p, v in gateway.sent.items()}
        worker.wait_until(lambda: committed(settings, PARTITIONS) == expected, "the first traffic committed")
        worker.wait_until(lambda: worker.metrics.is_ready, "ready before the outage")

        private_broker.stop()
        worker.wait_until(
            lambda: worker.counter("detector_kafka_retries_total", operation="reconnect") >= 3,
            "reconnect attempts with backoff while the broker is down",
        )
        assert not worker.metrics.is_ready and BROKER in worker.metrics.failing_conditions()
        assert worker.metrics.alive, "liveness must hold: restarting the process would not help"

        rebalances = worker.worker.source.rebalances
        restarted = LocalBroker(port=private_broker.port).start()
        create_topics(settings)
        worker.wait_until(
            lambda: worker.worker.source.rebalances > rebalances and worker.metrics.is_ready,
            "rejoined the group on the restarted broker and ready again",
        )
        gateway = Gateway(settings, PARTITIONS)
        gateway.send(AFTER)
        gateway.close()
        expected = {p: len(v) for p, v in gateway.sent.items()}
        worker.wait_until(lambda: committed(settings, PARTITIONS) == expected, "the later traffic committed")
        stats = worker.shutdown()
    finally:
        if worker.alive:
            worker.stop.set()
        if restarted is not None:
            alerts = read_topic(settings, settings.alerts_topic)
            state = final_changelog(settings)
            restarted.stop()

    assert stats.events == len(BEFORE) + len(AFTER)
    assert {a: s.total_events for a, s in state.items()} == dict(Counter(e["account_id"] for e in AFTER))
    assert "acct_y" in {orjson.loads(r.value or b"")["account_id"] for r in alerts}
    print(
        f"\nFIGURES broker restart: events before={len(BEFORE)} after={len(AFTER)} processed={stats.events} "
        f"reconnect retries={worker.counter('detector_kafka_retries_total', operation='reconnect'):.0f} "
        f"other retries={sum(worker.counter('detector_kafka_retries_total', operation=o) for o in ('alerts', 'changelog', 'commit', 'poll')):.0f}"
    )
