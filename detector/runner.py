"""The loop: poll a batch → process_one each record → deliver → checkpoint state → commit.

Sources, sinks and state backends are the only difference between ``detector run`` (Kafka, with
a state changelog) and ``detector replay`` (files, state in memory); the detector in the middle is
the same object.

Commit order, per batch (at-least-once; see docs/operations.md):
  1. ``sink.flush()``: every alert and dead letter of the batch is acknowledged by the broker
     (on Kafka it waits out failures with backoff while consumption is paused: backpressure);
  2. ``state.flush()``: the accounts the batch changed are written to the state changelog and
     acknowledged, with a tombstone for each account that expired;
  3. ``source.commit(batch)``: only then the offsets after the batch are committed.
A crash before 1 or 2 completes re-reads the batch from the last commit onto the state of the
last checkpoint: alerts come out again with the same ``alert_id``. A crash between 2 and 3
re-reads it onto state that already holds it: each account skips the offsets it has applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import structlog

from detector.events import Alert, Rejected
from detector.metrics import Metrics
from detector.pipeline.coordination import Fingerprint
from detector.pipeline.step import SourceRef, StepResult

log = structlog.get_logger("detector.runner")


class SourceRecord(NamedTuple):
    """One raw input message, where it came from, and when it was appended (ms, if known).

    A named tuple, like ``SourceRef``: one is made per message.
    """

    value: bytes
    ref: SourceRef
    timestamp_ms: int | None = None


class Source(Protocol):
    """Where events come from: a Kafka consumer group or a file."""

    def poll(self) -> Sequence[SourceRecord]: ...

    def commit(self, batch: Sequence[SourceRecord]) -> None: ...

    @property
    def exhausted(self) -> bool: ...

    def unread_partitions(self) -> set[int | None]:
        """Partitions that hold records beyond those polled so far (a backlog, or unknown)."""
        ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Where alerts and dead letters go; ``flush`` blocks until they are durable."""

    def send_alert(self, alert: Alert) -> None: ...

    def send_dead_letter(self, rejected: Rejected) -> None: ...

    def send_fingerprint(self, fingerprint: Fingerprint) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Processor(Protocol):
    """What the loop drives: the account stage (``Detector``) or the coordination stage."""

    def process_one(self, raw: bytes, source: SourceRef | None = None) -> StepResult: ...

    @property
    def tracked_accounts(self) -> int: ...

    @property
    def publishes_fingerprints(self) -> bool: ...

    def set_unread_partitions(self, partitions: frozenset[int | None]) -> None: ...


class StateBackend(Protocol):
    """Where keyed state is made durable; ``flush`` blocks until the batch's changes are."""

    def flush(self) -> None: ...


class InMemoryState:
    """No durability (``replay``, ``coordinate``, and ``run`` with the changelog off): changes
    are discarded, so the change log of each partition does not grow with every account seen."""

    def __init__(self, processor: Processor) -> None:
        self._processor = processor

    def flush(self) -> None:
        discard = getattr(self._processor, "discard_changes", None)
        if discard is not None:
            discard()


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
    detector: Processor,
    source: Source,
    sink: Sink,
    stop: threading.Event,
    metrics: Metrics | None = None,
    *,
    state: StateBackend | None = None,
) -> RunStats:
    """Process until the source is exhausted or ``stop`` is set; the batch in hand is finished."""
    stats = RunStats()
    store = state if state is not None else InMemoryState(detector)
    publish_fingerprints = detector.publishes_fingerprints
    started = time.perf_counter()
    try:
        while not stop.is_set():
            if metrics:
                metrics.beat()
            batch = source.poll()
            if not batch:
                if source.exhausted:
                    break
                continue
            batch_started = time.perf_counter()
            # Partitions with records still to process: those with a backlog beyond this batch,
            # and those with records later in it. Campaigns close only on event time that all
            # of them have reached (``CoordinationStage.observe_one``).
            last_of = {record.ref.partition: i for i, record in enumerate(batch)}
            ends = {i: partition for partition, i in last_of.items()}  # a partition's last record
            beyond = source.unread_partitions()
            in_batch = set(last_of)
            detector.set_unread_partitions(frozenset(beyond | in_batch))
            for i, record in enumerate(batch):
                result = detector.process_one(record.value, record.ref)
                if i in ends:
                    in_batch.discard(ends[i])
                    detector.set_unread_partitions(frozenset(beyond | in_batch))
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
                if publish_fingerprints:
                    for fingerprint in result.fingerprints:
                        sink.send_fingerprint(fingerprint)
            stats.events += len(batch)
            processed = time.perf_counter() - batch_started
            # Commit order: 1. alerts, dead letters (and fingerprints for the coordination stage)
            # acknowledged → 2. state changelog written
            # and acknowledged → 3. input offsets committed.
            sink.flush()
            store.flush()
            source.commit(batch)
            if metrics:
                metrics.batch(len(batch), processed, detector.tracked_accounts)
                _observe_latency(metrics, batch)
    finally:
        stats.seconds = time.perf_counter() - started
    return stats


def _observe_latency(metrics: Metrics, batch: Sequence[SourceRecord]) -> None:
    """Seconds from each record's append to the input topic to the commit of its batch."""
    now_ms = time.time() * 1000.0
    for record in batch:
        if record.timestamp_ms is not None and record.timestamp_ms > 0:
            metrics.event_latency.observe(max(0.0, (now_ms - record.timestamp_ms) / 1000.0))
