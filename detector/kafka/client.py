"""kafka-python at the edge: a consumer-group source, an acknowledging sink, topic creation.

The source owns the group membership. On assignment, partitions stay paused until their state
is restored (``ChangelogState.restore``); on revocation, pending offsets are committed and then
the partitions' state is dropped. While a delivery cannot complete, ``hold`` pauses every
partition and polls only to stay in the group — backpressure, not an unbounded buffer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from detector.events import Alert, Rejected
from detector.formats import prepare, render_alert
from detector.kafka.changelog import (
    ACCOUNTS_STORE,
    CHANGELOG_TOPIC_CONFIG,
    COORDINATION_STORE,
    ChangelogTopicError,
    changelog_topic,
    coordination_group,
)
from detector.kafka.delivery import AckedProducer, DeliveryError
from detector.kafka.retry import Retry, describe_error
from detector.metrics import ASSIGNED, BROKER, RESTORED, Metrics
from detector.pipeline.coordination import Fingerprint, encode_fingerprint, partition_key
from detector.pipeline.step import SourceRef
from detector.runner import SourceRecord
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")

__all__ = [
    "ChangelogTopicError",
    "DeliveryError",
    "EventPublisher",
    "KafkaSink",
    "KafkaSource",
    "PartitionOwner",
    "TopicReader",
    "check_verdicts_topic",
    "create_topics",
    "dead_letter_headers",
    "ensure_changelog_topic",
]


class PartitionOwner(Protocol):
    """Keyed state that follows the group's assignment (``ChangelogState``)."""

    def revoked(self, partitions: set[int]) -> None: ...

    def assigned(self, partitions: set[int]) -> None: ...

    @property
    def restoring(self) -> set[int]: ...

    def restore(self) -> set[int]: ...


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """kafka-python calls these inside ``poll``; the source does the work."""

    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        if revoked:  # kafka-python also calls this, empty, before the first join
            self._source._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._source._on_assigned(set(assigned))


class KafkaSource:
    """The events topic, read as one member of the consumer group, offsets committed by hand."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        state: PartitionOwner | None = None,
        retry: Retry | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._state = state
        self._retry = retry or Retry(settings, metrics=metrics)
        self._commit_timeout_ms = max(1_000, min(10_000, settings.session_timeout_ms))
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
            allow_auto_create_topics=False,
            retry_backoff_ms=settings.retry_backoff_ms,
            reconnect_backoff_ms=settings.retry_backoff_ms,
            reconnect_backoff_max_ms=settings.retry_backoff_max_ms,
            # Range assignment gives each member the same partition numbers of every topic it
            # subscribes to (when their partition counts are equal): verdicts partition n goes to
            # the owner of events partition n, i.e. of the accounts the verdicts name.
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        self.assigned: set[TopicPartition] = set()
        self._restoring: set[TopicPartition] = set()
        self._held: set[TopicPartition] = set()
        self._holding = False
        self._uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._poll_failures = 0
        self._outage_polls = 0
        self._lags: dict[TopicPartition, int] = {}  # per assigned partition after the last poll
        self.rebalances = 0
        topics = [settings.events_topic]
        if settings.consume_verdicts:  # co-partitioned with the events (docs/operations.md)
            topics.append(settings.verdicts_topic)
        self._consumer.subscribe(topics, listener=_Rebalance(self))

    # --- group membership -----------------------------------------------------------------------
    def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        # Commit, then drop the partitions' state. Offsets are committed after every batch, so
        # what can be left is a commit that failed and awaits its retry; kafka-python allows only
        # an asynchronous commit in here. Its state is already in the changelog either way.
        pending = {tp: offset for tp, offset in self._uncommitted.items() if tp in revoked}
        if pending:
            try:
                self._consumer.commit_async(pending)
            except KafkaError as error:
                log.warning("commit_on_revoke_failed", partitions=len(pending), error=describe_error(error))
        for tp in revoked:
            self._uncommitted.pop(tp, None)
            if self._metrics:
                self._metrics.forget_partition(tp.partition)
        self.assigned -= revoked
        self._restoring -= revoked
        self._held -= revoked
        if self._state is not None:
            self._state.revoked({tp.partition for tp in revoked})
        log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))
        self._report_assignment()

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.rebalances += 1
        self.assigned |= assigned
        if self._state is not None:
            # Paused until their state is restored: no record of theirs is fetched before.
            self._state.assigned({tp.partition for tp in self.assigned})
            restoring = {tp for tp in self.assigned if tp.partition in self._state.restoring}
            if restoring:
                self._consumer.pause(*restoring)
                self._restoring |= restoring
        if self._holding:  # assigned while deliveries are blocked: consumed once they resume
            fresh = assigned - self._held - self._restoring
            if fresh:
                self._consumer.pause(*fresh)
                self._held |= fresh
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
        self._report_assignment()

    def _finish_restore(self) -> None:
        assert self._state is not None
        done = self._state.restore()
        ready = {tp for tp in self._restoring if tp.partition in done}
        self._restoring -= ready
        to_resume = ready - self._held
        if to_resume:
            self._consumer.resume(*to_resume)
        self._report_assignment()

    def _report_assignment(self) -> None:
        if self._metrics:
            self._metrics.partitions.set(len(self.assigned))
            self._metrics.condition(ASSIGNED, bool(self.assigned))
            self._metrics.condition(RESTORED, not self._restoring)

    def _broker_reachable(self) -> bool:
        # kafka-python has no public "connected" check. Consuming and committing need the group
        # coordinator: known and its connection not failed = reachable.
        return not self._consumer._coordinator.coordinator_unknown()

    def _report_broker(self, reachable: bool) -> None:
        if self._metrics:
            self._metrics.condition(BROKER, reachable)

    # --- consuming --------------------------------------------------------------------------------
    def poll(self) -> Sequence[SourceRecord]:
        """Records of restored partitions; restores partitions assigned during this poll first."""
        self._release_hold()
        try:
            polled = self._consumer.poll(
                timeout_ms=self._settings.poll_timeout_ms, max_records=self._settings.max_poll_records
            )
        except KafkaError as error:
            self._report_broker(False)
            self._retry.wait("poll", self._poll_failures, error, hold=False)
            self._poll_failures += 1
            return []
        self._poll_failures = 0
        reachable = self._broker_reachable()
        self._report_broker(reachable)
        if not reachable:
            # Broker (group coordinator) unreachable: kafka-python reconnects inside poll; space
            # the polls out with backoff so an outage is visible, counted and not a busy loop.
            self._retry.wait("reconnect", self._outage_polls, "group coordinator unreachable", hold=False)
            self._outage_polls += 1
        else:
            self._outage_polls = 0
        if self._restoring and self._state is not None:
            self._finish_restore()
        if self._uncommitted:
            self._commit_pending()
        batch: list[SourceRecord] = []
        for tp, records in polled.items():
            if tp in self._restoring or tp in self._held or tp not in self.assigned:
                # Never process a partition before its state is restored (kafka-python does not
                # return paused partitions; this is the guard should it ever do so).
                if records and tp in self.assigned:
                    self._consumer.seek(tp, records[0].offset)
                continue
            for record in records:
                value = record.value if record.value is not None else b""
                ref = SourceRef(topic=tp.topic, partition=tp.partition, offset=record.offset, key=record.key)
                batch.append(SourceRecord(value, ref, record.timestamp))
        self._lags = self._measure_lags()
        if self._metrics:
            self._report_lag()
        return batch

    def unread_partitions(self) -> set[int | None]:
        """Assigned partitions with records beyond those polled: a backlog (position below the
        high-water mark), or not fetched yet (no high-water mark known)."""
        return {tp.partition for tp in self.assigned if self._lags.get(tp, 1) != 0}

    def hold(self) -> None:
        """Backpressure: pause every partition and poll only to stay in the group."""
        self._holding = True
        active = self.assigned - self._held - self._restoring
        if active:
            self._consumer.pause(*active)
            self._held |= active
        try:
            polled = self._consumer.poll(timeout_ms=100)
        except KafkaError as error:
            self._report_broker(False)
            log.debug("hold_poll_failed", error=describe_error(error))
            return
        self._report_broker(self._broker_reachable())
        for tp, records in polled.items():  # nothing is consumed while held
            if records and tp in self.assigned:
                self._consumer.seek(tp, records[0].offset)

    def _release_hold(self) -> None:
        if not self._holding:
            return
        self._holding = False
        to_resume = self._held & self.assigned
        self._held.clear()
        if to_resume:
            self._consumer.resume(*to_resume)

    def _measure_lags(self) -> dict[TopicPartition, int]:
        # end_offsets() is wrong on some brokers; the high-water mark seen while fetching is not.
        lags: dict[TopicPartition, int] = {}
        for tp in self.assigned - self._restoring:
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = self._consumer.position(tp)
            if position is not None:
                lags[tp] = max(0, highwater - position)
        return lags

    def _report_lag(self) -> None:
        assert self._metrics is not None
        for tp, lag in self._lags.items():
            self._metrics.consumer_lag.labels(partition=str(tp.partition)).set(lag)

    # --- committing -------------------------------------------------------------------------------
    def commit(self, batch: Sequence[SourceRecord]) -> None:
        """Commit the offset after the last record of each partition in the batch that this worker
        still owns (a partition revoked meanwhile is committed by its new owner)."""
        for record in batch:
            ref = record.ref
            assert ref.topic is not None and ref.partition is not None and ref.offset is not None
            tp = TopicPartition(ref.topic, ref.partition)
            if tp in self.assigned:
                self._uncommitted[tp] = OffsetAndMetadata(ref.offset + 1, "", -1)
        self._commit_pending()

    def _commit_pending(self) -> None:
        offsets = dict(self._uncommitted)
        if not offsets:
            return
        try:
            self._consumer.commit(offsets, timeout_ms=self._commit_timeout_ms)
        except CommitFailedError:
            # The group rebalanced under us: the new owner re-reads from the last commit, and the
            # state it restores skips what was already folded in. At-least-once, nothing lost.
            log.warning("commit_failed_rebalanced", partitions=len(offsets))
            self._uncommitted.clear()
            return
        except KafkaError as error:
            # Broker or coordinator unavailable: retried at the next poll. Only the replay after a
            # crash grows meanwhile (and it is skipped by the changelog's applied offsets).
            if self._metrics:
                self._metrics.retry("commit")
            log.warning("commit_deferred", partitions=len(offsets), error=describe_error(error))
            return
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]
        log.debug("offsets_committed", offsets={tp.partition: o.offset for tp, o in offsets.items()})

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
    """Alerts (keyed by account) and dead letters, acknowledged by the broker on ``flush``.

    With a ``retry`` policy, ``flush`` waits out failures with backoff (holding consumption);
    without one it raises ``DeliveryError`` at the first message the producer gave up on.
    """

    def __init__(
        self, settings: Settings, metrics: Metrics | None = None, retry: Retry | None = None
    ) -> None:
        self._settings = settings
        prepare(settings)
        self._producer = AckedProducer(settings, "alerts", metrics, retry)

    @property
    def pending(self) -> int:
        return self._producer.pending

    def send_alert(self, alert: Alert) -> None:
        """In the configured format (``DETECTOR_ALERT_FORMAT``), with CloudEvents headers if on;
        acknowledged with the rest of the batch on ``flush``, whatever the format."""
        rendered = render_alert(alert, self._settings)
        self._producer.send(
            self._settings.alerts_topic,
            key=alert.account_id.encode("utf-8", "surrogatepass"),
            value=rendered.value,
            headers=rendered.headers,
        )

    def send_fingerprint(self, fingerprint: Fingerprint) -> None:
        """To the coordination stage, keyed by the strongest shared key (repartition pattern)."""
        self._producer.send(
            self._settings.fingerprints_topic,
            key=partition_key(fingerprint),
            value=encode_fingerprint(fingerprint),
            headers=[],
        )

    def send_dead_letter(self, rejected: Rejected) -> None:
        self._producer.send(
            self._settings.dlq_topic,
            key=rejected.raw_key,
            value=rejected.raw,
            headers=dead_letter_headers(rejected),
        )

    def flush(self) -> None:
        """Block until every pending message is acknowledged (step 1 of the commit order)."""
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()


def _create_topic(admin: KafkaAdminClient, topic: NewTopic) -> None:
    try:
        admin.create_topics([topic])
        log.info("topic_created", topic=topic.name, partitions=topic.num_partitions)
    except TopicAlreadyExistsError:
        log.info("topic_exists", topic=topic.name)


def _partitions(settings: Settings, topic: str, timeout_s: float) -> set[int]:
    """The partitions of ``topic`` as the cluster reports them (empty if it does not exist)."""
    consumer = KafkaConsumer(**settings.kafka_common_config(), allow_auto_create_topics=False)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found: set[int] = consumer.partitions_for_topic(topic) or set()
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
    finally:
        consumer.close()


def create_topics(settings: Settings, partitions: int | None = None, timeout_s: float = 30.0) -> None:
    """Create the events, alerts, dead-letter, verdicts, fingerprints (topic mode) and changelog
    topics (idempotent) and check partition counts.

    A store's changelog and the verdicts topic must be partitioned like the topic their process
    consumes, so they are sized from that topic as the cluster reports it, not from the setting:
    an events topic that already exists with another count (made by hand, or auto-created by a
    broker that creates subscribed topics) then still gets matching changelogs instead of a
    worker that stops on ``ChangelogTopicError``."""
    count = partitions or settings.topic_partitions
    rf = settings.topic_replication_factor
    admin = KafkaAdminClient(**settings.kafka_common_config())
    try:
        events = _create_and_count(admin, settings, settings.events_topic, count, timeout_s)
        for name, topic_count in (
            (settings.alerts_topic, count),
            (settings.dlq_topic, count),
            (settings.verdicts_topic, events),
        ):
            _create_topic(admin, NewTopic(name, num_partitions=topic_count, replication_factor=rf))
        changelogs = [(changelog_topic(settings), events)] if settings.state_changelog else []
        # The campaigns store of whoever runs the coordination stage: the workers, partitioned
        # like the events (inline), or `detector coordinate`, whose group is its own and whose
        # input is the fingerprints topic (topic mode).
        owner, coordinator_input = None, events
        if settings.coordination_mode == "topic":
            owner = coordination_group(settings)
            coordinator_input = _create_and_count(
                admin, settings, settings.fingerprints_topic, count, timeout_s
            )
        if settings.coordination_mode != "off" and settings.coordination_changelog:
            changelogs.append(
                (changelog_topic(settings, COORDINATION_STORE, group_id=owner), coordinator_input)
            )
        for name, topic_count in changelogs:
            _create_topic(
                admin,
                NewTopic(
                    name,
                    num_partitions=topic_count,
                    replication_factor=rf,
                    topic_configs=CHANGELOG_TOPIC_CONFIG,
                ),
            )
    finally:
        admin.close()
    check_verdicts_topic(settings, timeout_s=min(timeout_s, 10.0))


def _create_and_count(
    admin: KafkaAdminClient, settings: Settings, name: str, count: int, timeout_s: float
) -> int:
    """Create ``name`` with ``count`` partitions unless it exists; the count it really has."""
    _create_topic(
        admin, NewTopic(name, num_partitions=count, replication_factor=settings.topic_replication_factor)
    )
    found = _partitions(settings, name, timeout_s)
    if not found:
        raise KafkaError(f"topic {name} not visible after {timeout_s}s")
    if len(found) != count:
        log.warning("partition_count_differs", topic=name, expected=count, actual=len(found))
    return len(found)


def check_verdicts_topic(settings: Settings, timeout_s: float = 0.0) -> bool:
    """True when the verdicts topic has the events topic's partition count, as co-partitioning
    needs; otherwise logs ``verdicts_topic_not_copartitioned`` (verdicts for some accounts would
    reach a worker that does not own them and be applied to nothing). Not fatal: detection
    goes on without feedback."""
    if not settings.consume_verdicts:
        return True
    try:
        events = _partitions(settings, settings.events_topic, timeout_s)
        verdicts = _partitions(settings, settings.verdicts_topic, timeout_s)
    except KafkaError as error:  # broker not reachable yet: the source waits for it anyway
        log.warning("verdicts_topic_unchecked", error=describe_error(error))
        return False
    if events and len(verdicts) == len(events):
        return True
    log.error(
        "verdicts_topic_not_copartitioned",
        verdicts_topic=settings.verdicts_topic,
        partitions=len(verdicts),
        events_partitions=len(events),
    )
    return False


def ensure_changelog_topic(settings: Settings, retry: Retry, store: str = ACCOUNTS_STORE) -> bool:
    """Create the changelog topic of ``store`` if it is missing, partitioned like the events topic.

    Retries (with backoff) while the broker is unreachable or the events topic does not exist
    yet; False if a stop was requested meanwhile. Raises ``ChangelogTopicError`` on a partition
    count mismatch: state of partition n must live in changelog partition n.
    """
    topic = changelog_topic(settings, store)
    attempt = 0
    while True:
        try:
            events = _partitions(settings, settings.events_topic, timeout_s=0)
            if not events:
                raise KafkaError(f"events topic {settings.events_topic} not found")
            existing = _partitions(settings, topic, timeout_s=0)
            if not existing:
                admin = KafkaAdminClient(**settings.kafka_common_config())
                try:
                    _create_topic(
                        admin,
                        NewTopic(
                            topic,
                            num_partitions=len(events),
                            replication_factor=settings.topic_replication_factor,
                            topic_configs=CHANGELOG_TOPIC_CONFIG,
                        ),
                    )
                finally:
                    admin.close()
                existing = _partitions(settings, topic, timeout_s=10)
            if len(existing) != len(events):
                raise ChangelogTopicError(
                    f"{topic} has {len(existing)} partitions, {settings.events_topic} has {len(events)}: "
                    "see docs/operations.md, 'Reset state'"
                )
            return True
        except KafkaError as error:
            if not retry.wait("ensure_changelog", attempt, error, hold=False):
                return False
            attempt += 1


class EventPublisher:
    """Produces raw API-call events keyed by account (the simulator's and the tests' gateway)."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.events_topic
        self._producer = KafkaProducer(
            **settings.kafka_common_config(), acks="all", linger_ms=20, batch_size=262_144
        )

    def send(self, key: bytes, value: bytes, partition: int | None = None) -> None:
        self._producer.send(self._topic, key=key, value=value, partition=partition)

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
