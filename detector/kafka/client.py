"""kafka-python at the edge: a consumer-group source, an acknowledging sink, topic creation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from detector.events import Alert, Rejected
from detector.metrics import Metrics
from detector.pipeline.step import SourceRef
from detector.runner import SourceRecord
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")


class DeliveryError(RuntimeError):
    """The broker did not acknowledge an alert or dead letter; offsets must not be committed."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tracks assignment for /readyz. Offsets are committed after every batch, so nothing is
    pending when a partition is revoked (revocation only happens inside ``poll``)."""

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics
        self.assigned: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.assigned.difference_update(revoked)
        log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))
        if self._metrics:
            self._metrics.ready.set(1 if self.assigned else 0)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.assigned.update(assigned)
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
        if self._metrics:
            self._metrics.ready.set(1 if self.assigned else 0)


class KafkaSource:
    """The events topic, read as one member of the consumer group, offsets committed by hand."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._consumer = KafkaConsumer(
            **settings.kafka_common_config(),
            group_id=settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.auto_offset_reset,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_records=settings.max_poll_records,
            fetch_max_bytes=max(52_428_800, settings.max_message_bytes * 4),
            max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes * 2),
        )
        self._listener = _Rebalance(metrics)
        self._consumer.subscribe([settings.events_topic], listener=self._listener)

    def poll(self) -> Sequence[SourceRecord]:
        polled = self._consumer.poll(
            timeout_ms=self._settings.poll_timeout_ms, max_records=self._settings.max_poll_records
        )
        batch: list[SourceRecord] = []
        for tp, records in polled.items():
            for record in records:
                value = record.value if record.value is not None else b""
                batch.append(
                    SourceRecord(
                        value,
                        SourceRef(
                            topic=tp.topic, partition=tp.partition, offset=record.offset, key=record.key
                        ),
                    )
                )
        if self._metrics:
            self._report_lag()
        return batch

    def _report_lag(self) -> None:
        # end_offsets() is wrong on some brokers; the high-water mark seen while fetching is not.
        for tp in self._listener.assigned:
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = self._consumer.position(tp)
            if position is not None and self._metrics:
                self._metrics.consumer_lag.labels(partition=str(tp.partition)).set(highwater - position)

    def commit(self, batch: Sequence[SourceRecord]) -> None:
        """Commit the offset after the last record of each partition in the batch."""
        next_offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in batch:
            ref = record.ref
            assert ref.topic is not None and ref.partition is not None and ref.offset is not None
            next_offsets[TopicPartition(ref.topic, ref.partition)] = OffsetAndMetadata(ref.offset + 1, "", -1)
        try:
            self._consumer.commit(next_offsets)
        except CommitFailedError:
            # The group rebalanced under us: the new owner re-reads from the last commit, and
            # the alerts it re-emits carry the same alert_id. At-least-once, nothing lost.
            log.warning("commit_failed_rebalanced", partitions=len(next_offsets))

    @property
    def exhausted(self) -> bool:
        return False

    def close(self) -> None:
        """Leave the group promptly so partitions move to the other workers now."""
        self._consumer.close(autocommit=False)


def dead_letter_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    """Kafka Connect-style DLQ headers: the reason travels beside the untouched original bytes."""
    headers = [
        ("detector.dlq.reason", rejected.reason.encode()),
        ("detector.dlq.detail", rejected.detail.encode()),
    ]
    if rejected.source_topic is not None:
        headers.append(("detector.dlq.source.topic", rejected.source_topic.encode()))
    if rejected.source_partition is not None:
        headers.append(("detector.dlq.source.partition", str(rejected.source_partition).encode()))
    if rejected.source_offset is not None:
        headers.append(("detector.dlq.source.offset", str(rejected.source_offset).encode()))
    return headers


class KafkaSink:
    """Alerts (keyed by account) and dead letters, acknowledged by the broker on ``flush``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = KafkaProducer(
            **settings.kafka_common_config(),
            acks="all",
            linger_ms=settings.producer_linger_ms,
            compression_type=None
            if settings.producer_compression == "none"
            else settings.producer_compression,
            max_request_size=max(1_048_576, settings.max_message_bytes * 2),
            retries=2_147_483_647,
            delivery_timeout_ms=120_000,
        )
        self._pending: list[Any] = []

    def send_alert(self, alert: Alert) -> None:
        self._pending.append(
            self._producer.send(
                self._settings.alerts_topic,
                key=alert.account_id.encode(),
                value=alert.model_dump_json().encode(),
                headers=[
                    ("schema_version", b"1"),
                    ("alert_id", alert.alert_id.encode()),
                    ("revision", str(alert.revision).encode()),
                ],
            )
        )

    def send_dead_letter(self, rejected: Rejected) -> None:
        self._pending.append(
            self._producer.send(
                self._settings.dlq_topic,
                key=rejected.raw_key,
                value=rejected.raw,
                headers=dead_letter_headers(rejected),
            )
        )

    def flush(self) -> None:
        """Block until every pending message is acknowledged; raise if any was not."""
        if not self._pending:
            return
        self._producer.flush()
        failures = [future.exception for future in self._pending if future.failed()]
        self._pending.clear()
        if failures:
            raise DeliveryError(f"{len(failures)} messages not acknowledged: {failures[0]!r}")

    def close(self) -> None:
        self._producer.close()


def create_topics(settings: Settings, partitions: int | None = None, timeout_s: float = 30.0) -> None:
    """Create the events, alerts and dead-letter topics (idempotent) and check partition counts."""
    count = partitions or settings.topic_partitions
    admin = KafkaAdminClient(**settings.kafka_common_config())
    try:
        for name in (settings.events_topic, settings.alerts_topic, settings.dlq_topic):
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name, num_partitions=count, replication_factor=settings.topic_replication_factor
                        )
                    ]
                )
                log.info("topic_created", topic=name, partitions=count)
            except TopicAlreadyExistsError:
                log.info("topic_exists", topic=name)
    finally:
        admin.close()
    consumer = KafkaConsumer(**settings.kafka_common_config())
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found = consumer.partitions_for_topic(settings.events_topic)
            if found:
                if len(found) != count:
                    log.warning(
                        "partition_count_differs",
                        topic=settings.events_topic,
                        expected=count,
                        actual=len(found),
                    )
                return
            if time.monotonic() > deadline:
                raise KafkaError(f"topic {settings.events_topic} not visible after {timeout_s}s")
            time.sleep(0.2)
    finally:
        consumer.close()


class EventPublisher:
    """Produces raw API-call events keyed by account (the simulator's and the tests' gateway)."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.events_topic
        self._producer = KafkaProducer(
            **settings.kafka_common_config(), acks="all", linger_ms=20, batch_size=262_144
        )

    def send(self, key: bytes, value: bytes) -> None:
        self._producer.send(self._topic, key=key, value=value)

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


class TopicReader:
    """Reads every partition of one topic from the start, outside any group (demo, tests)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self._consumer = KafkaConsumer(
            **settings.kafka_common_config(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self._consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self._consumer.seek_to_beginning()

    def poll(self, timeout_ms: int = 200) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
        """(key, value, headers) of the records that arrived, in partition order."""
        out: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            out.extend((r.key, r.value, list(r.headers or [])) for r in records)
        return out

    def close(self) -> None:
        self._consumer.close(autocommit=False)
