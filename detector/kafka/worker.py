"""The production wiring of one worker: source, sink and state changelog on one retry policy.

``detector run`` and the fault tests both start workers through ``start_worker``, so the tests
exercise exactly what production runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from detector.kafka.changelog import COORDINATION_STORE, ChangelogState
from detector.kafka.client import KafkaSink, KafkaSource, check_verdicts_topic, ensure_changelog_topic
from detector.kafka.coordination_changelog import CoordinationChangelog
from detector.kafka.retry import Retry
from detector.kafka.stores import Stores
from detector.metrics import Metrics
from detector.pipeline.step import Detector
from detector.runner import RunStats, run_loop
from detector.settings import Settings


@dataclass(slots=True)
class KafkaWorker:
    """One consumer-group member with durable state; ``run`` until ``stop`` is set."""

    detector: Detector
    source: KafkaSource
    sink: KafkaSink
    state: ChangelogState | None
    stop: threading.Event
    metrics: Metrics
    coordination: CoordinationChangelog | None = None

    @property
    def stores(self) -> Stores:
        """Checkpoint order: campaigns, then accounts (see ``coordination_changelog``)."""
        return Stores(*(s for s in (self.coordination, self.state) if s is not None))

    def run(self) -> RunStats:
        stores = self.stores
        backend = stores if stores.stores else None
        return run_loop(self.detector, self.source, self.sink, self.stop, self.metrics, state=backend)

    def close(self) -> None:
        """Release the producers, then leave the group so the partitions move on at once."""
        self.sink.close()
        self.stores.close()
        self.source.close()


def start_worker(
    settings: Settings, detector: Detector, metrics: Metrics, stop: threading.Event
) -> KafkaWorker | None:
    """Wire a worker; waits (with backoff) for the broker and the changelog topics. None if a stop
    was requested before it could start. Raises ``ChangelogTopicError`` on a misconfigured topic."""
    retry = Retry(settings, stop, metrics)
    state = ChangelogState(settings, detector, metrics, retry) if settings.state_changelog else None
    coordination = (
        CoordinationChangelog(settings, detector.coordination, metrics, retry)
        if settings.coordination_changelog and detector.coordination is not None
        else None
    )
    stores = Stores(*(s for s in (coordination, state) if s is not None))
    ready = (state is None or ensure_changelog_topic(settings, retry)) and (
        coordination is None or ensure_changelog_topic(settings, retry, COORDINATION_STORE)
    )
    if not ready:
        stores.close()
        return None
    check_verdicts_topic(settings)  # logs an error when verdicts could not reach their owners
    source = KafkaSource(settings, metrics, state=stores if stores.stores else None, retry=retry)
    retry.while_waiting = source.hold
    sink = KafkaSink(settings, metrics, retry)
    return KafkaWorker(detector, source, sink, state, stop, metrics, coordination)
