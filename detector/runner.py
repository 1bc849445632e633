"""The loop: poll a batch → process_one each record → publish → acknowledge → commit.

Sources and sinks are the only difference between ``detector run`` (Kafka) and
``detector replay`` (files); the detector in the middle is the same object.

Commit order, per batch (at-least-once):
  1. every record is processed; alerts and dead letters are handed to the sink;
  2. ``sink.flush()`` returns only when the broker acknowledged all of them (raises otherwise);
  3. only then ``source.commit(batch)`` commits the offsets after the batch.
A crash between 2 and 3 replays the batch: events are deduplicated by ``event_id`` and the alerts
that are emitted again carry the same ``alert_id``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from detector.events import Alert, Rejected
from detector.metrics import Metrics
from detector.pipeline.step import Detector, SourceRef

log = structlog.get_logger("detector.runner")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One raw input message and where it came from."""

    value: bytes
    ref: SourceRef


class Source(Protocol):
    """Where events come from: a Kafka consumer group or a file."""

    def poll(self) -> Sequence[SourceRecord]: ...

    def commit(self, batch: Sequence[SourceRecord]) -> None: ...

    @property
    def exhausted(self) -> bool: ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Where alerts and dead letters go; ``flush`` blocks until they are durable."""

    def send_alert(self, alert: Alert) -> None: ...

    def send_dead_letter(self, rejected: Rejected) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class RunStats:
    """Counts for the end-of-run summary line."""

    events: int = 0
    invalid: int = 0
    duplicates: int = 0
    alerts: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def run_loop(
    detector: Detector,
    source: Source,
    sink: Sink,
    stop: threading.Event,
    metrics: Metrics | None = None,
) -> RunStats:
    """Process until the source is exhausted or ``stop`` is set; the batch in hand is finished."""
    stats = RunStats()
    started = time.perf_counter()
    try:
        while not stop.is_set():
            batch = source.poll()
            if not batch:
                if source.exhausted:
                    break
                continue
            batch_started = time.perf_counter()
            for record in batch:
                result = detector.process_one(record.value, record.ref)
                for rejected in result.dead_letters:
                    stats.invalid += 1
                    log.warning(
                        "event_rejected",
                        reason=rejected.reason,
                        detail=rejected.detail,
                        topic=rejected.source_topic,
                        partition=rejected.source_partition,
                        offset=rejected.source_offset,
                    )
                    sink.send_dead_letter(rejected)
                    if metrics:
                        metrics.invalid(rejected.reason)
                if result.duplicate:
                    stats.duplicates += 1
                    if metrics:
                        metrics.duplicate()
                for alert in result.alerts:
                    stats.alerts += 1
                    log.info(
                        "alert_emitted",
                        alert_id=alert.alert_id,
                        revision=alert.revision,
                        account_id=alert.account_id,
                        severity=alert.severity.value,
                        score=alert.score,
                        top_reason=alert.reasons[0].signal if alert.reasons else None,
                    )
                    sink.send_alert(alert)
                    if metrics:
                        metrics.alert(alert.severity.value)
            stats.events += len(batch)
            # Commit order: alerts and dead letters acknowledged → then offsets.
            sink.flush()
            source.commit(batch)
            if metrics:
                metrics.batch(len(batch), time.perf_counter() - batch_started, detector.tracked_accounts)
    finally:
        stats.seconds = time.perf_counter() - started
    return stats
