"""The production wiring of one worker: source, sink and state changelog on one retry policy.

``detector run`` and the fault tests both start workers through ``start_worker``, so the tests
exercise exactly what production runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from detector.kafka.changelog import ChangelogState
from detector.kafka.client import KafkaSink, KafkaSource, check_verdicts_topic, ensure_changelog_topic
from detector.kafka.retry import Retry
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

    def run(self) -> RunStats:
        return run_loop(self.detector, self.source, self.sink, self.stop, self.metrics, state=self.state)

    def close(self) -> None:
        """Release the producers, then leave the group so the partitions move on at once."""
        self.sink.close()
        if self.state is not None:
            self.state.close()
        self.source.close()


def start_worker(
    settings: Settings, detector: Detector, metrics: Metrics, stop: threading.Event
) -> KafkaWorker | None:
    """Wire a worker; waits (with backoff) for the broker and the changelog topic. None if a stop
    was requested before it could start. Raises ``ChangelogTopicError`` on a misconfigured topic."""
    retry = Retry(settings, stop, metrics)
    state = ChangelogState(settings, detector, metrics, retry) if settings.state_changelog else None
    if state is not None and not ensure_changelog_topic(settings, retry):
        state.close()
        return None
    check_verdicts_topic(settings)  # logs an error when verdicts could not reach their owners
    source = KafkaSource(settings, metrics, state=state, retry=retry)
    retry.while_waiting = source.hold
    sink = KafkaSink(settings, metrics, retry)
    return KafkaWorker(detector, source, sink, state, stop, metrics)
