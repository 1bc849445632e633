"""Keyed state that survives crashes and follows its partitions: a compacted changelog per store.

The pattern is Kafka Streams' (and Quix Streams'): every state store has a changelog topic,
``<group_id>-<store>-changelog``, compacted, with as many partitions as the input topic. Input
partition *n*'s state lives in changelog partition *n*. One store exists today, ``accounts``
(key = account id, value = ``pipeline/snapshot.py``'s encoding, tombstone = forgotten); a second
store (e.g. the cross-account stage's clusters) gets its own topic and its own ``ChangelogState``.

* **Checkpoint** (``flush``, step 2 of the runner's commit order): the accounts changed since the
  last checkpoint are written to their partition — latest value only, so an account hit by 500
  events in a batch is one record — plus a tombstone per account expired or evicted; returns when
  the broker acknowledged all of them.
* **Restore** (``restore``): a newly assigned partition stays paused until its changelog has been
  read up to the high-water mark into a fresh store; only then is it resumed. A worker reads only
  the changelog partitions of the input partitions it was given.
* **Revoke** (``revoked``): the partition's state is dropped from the detector. If it had nothing
  unwritten, it is kept aside as a local snapshot together with the changelog offset it matches;
  should the partition come back (an eager rebalance revokes everything and hands most of it
  back), only the changelog records written after that offset — by another worker meanwhile — are
  replayed on top. Snapshots of partitions not handed back are freed on the next assignment.

Consistency: the changelog may be ahead of the committed input offsets (a crash after step 2),
never behind what was committed. Each account carries the input offset of the last event folded
into it (``applied_offset``); replayed events at or below it are recognised and skipped, so state
counts every event exactly once even though events are delivered at least once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from detector.kafka.delivery import AckedProducer
from detector.kafka.retry import Retry
from detector.metrics import Metrics
from detector.pipeline.snapshot import SnapshotError, decode_account, encode_account, memory_bytes
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector, PartitionState
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")

ACCOUNTS_STORE = "accounts"
COORDINATION_STORE = "campaigns"  # the coordination stage's (kafka/coordination_changelog.py)
CHANGELOG_TOPIC_CONFIG = {"cleanup.policy": "compact"}
# Accounts sampled per checkpoint to measure memory per account.
_MEMORY_SAMPLE = 64


class ChangelogTopicError(RuntimeError):
    """The changelog topic does not match the events topic (partition count): state of input
    partition n must live in changelog partition n. Fatal; see docs/operations.md, Reset state."""


def changelog_topic(settings: Settings, store: str = ACCOUNTS_STORE, group_id: str | None = None) -> str:
    """The changelog topic of one state store of this consumer group (or of ``group_id``)."""
    return f"{group_id or settings.group_id}-{store}-changelog"


def coordination_group(settings: Settings) -> str:
    """The consumer group of ``detector coordinate`` (and so the owner of its changelog)."""
    return f"{settings.group_id}-coordination"


@dataclass(slots=True)
class _Snapshot:
    """A revoked partition's state kept in memory, valid up to changelog offset ``position``."""

    state: PartitionState
    position: int


@dataclass(slots=True)
class RestoreReport:
    """What one restore did (also logged as ``state_restored``)."""

    partitions: list[int]
    accounts: int
    records: int
    unreadable: int
    from_snapshot: list[int]
    seconds: float


class ChangelogState:
    """The ``accounts`` store's changelog: restore on assignment, write on checkpoint, drop on revoke.

    It is the runner's state backend (``flush``) and the source's partition listener
    (``assigned``, ``revoked``, ``restore``).
    """

    def __init__(
        self,
        settings: Settings,
        detector: Detector,
        metrics: Metrics | None = None,
        retry: Retry | None = None,
    ) -> None:
        self.topic = changelog_topic(settings)
        self._settings = settings
        self._detector = detector
        self._metrics = metrics
        self._retry = retry or Retry(settings, metrics=metrics)
        self._producer = AckedProducer(
            settings, "changelog", metrics, self._retry, linger_ms=max(5, settings.producer_linger_ms)
        )
        self._restorer: KafkaConsumer | None = None
        # Changelog offset each owned partition's in-memory state corresponds to.
        self._position: dict[int, int] = {}
        self._snapshots: dict[int, _Snapshot] = {}
        self._to_restore: set[int] = set()
        self.last_restore: RestoreReport | None = None

    # --- partition listener (called by the source inside poll) ----------------------------------
    def revoked(self, partitions: set[int]) -> None:
        """Drop the partitions' state (their offsets were committed); keep clean ones as snapshots."""
        for number in partitions:
            self._to_restore.discard(number)
            owned = self._detector.drop_partition(number)
            position = self._position.pop(number, None)
            clean = owned is not None and not owned.dirty and not owned.accounts.removed
            if owned is not None and position is not None and clean:
                self._snapshots[number] = _Snapshot(owned, position)
        log.info(
            "partition_state_dropped", partitions=sorted(partitions), kept_as_snapshot=len(self._snapshots)
        )

    def assigned(self, partitions: set[int]) -> None:
        """Remember what to restore; free state and snapshots of partitions that went elsewhere."""
        for number in set(self._snapshots) - partitions:
            del self._snapshots[number]
        held = {number for number in self._detector.partitions if number is not None}
        for number in held - partitions:
            self._detector.drop_partition(number)
            self._position.pop(number, None)
        self._to_restore |= partitions - held

    @property
    def restoring(self) -> set[int]:
        return set(self._to_restore)

    # --- restore --------------------------------------------------------------------------------
    def restore(self) -> set[int]:
        """Read the changelog of every partition assigned since the last call up to its high-water
        mark and install the result; returns the partitions now ready to be consumed."""
        partitions = sorted(self._to_restore)
        if not partitions:
            return set()
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                report = self._restore(partitions)
                if report is None:  # stop requested: the partitions stay paused, nothing installed
                    return set()
                break
            except KafkaError as error:
                # Consumption of these partitions stays paused; the group heartbeats meanwhile.
                if not self._retry.wait("restore", attempt, error, hold=False):
                    return set()
                attempt += 1
        report.seconds = time.perf_counter() - started
        self._to_restore.difference_update(partitions)
        self.last_restore = report
        if self._metrics:
            self._metrics.restore_seconds.observe(report.seconds)
            self._metrics.restored_accounts.inc(report.accounts)
            self._metrics.restored_records.inc(report.records)
            self._metrics.unreadable_records.inc(report.unreadable)
            self._measure_memory()
        log.info(
            "state_restored",
            store=ACCOUNTS_STORE,
            partitions=report.partitions,
            accounts=report.accounts,
            records=report.records,
            unreadable=report.unreadable,
            from_snapshot=report.from_snapshot,
            seconds=round(report.seconds, 3),
        )
        return set(partitions)

    def _consumer(self) -> KafkaConsumer:
        if self._restorer is None:
            self._restorer = KafkaConsumer(
                **self._settings.kafka_common_config(),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                allow_auto_create_topics=False,
                max_poll_records=10_000,
                fetch_max_wait_ms=100,
                fetch_max_bytes=52_428_800,
                max_partition_fetch_bytes=8_388_608,
                reconnect_backoff_ms=self._settings.retry_backoff_ms,
                reconnect_backoff_max_ms=self._settings.retry_backoff_max_ms,
            )
        return self._restorer

    def _restore(self, partitions: list[int]) -> RestoreReport | None:
        consumer = self._consumer()
        available = consumer.partitions_for_topic(self.topic)
        if not available:
            raise KafkaError(f"changelog topic {self.topic} not visible")
        if missing := set(partitions) - available:
            raise ChangelogTopicError(
                f"{self.topic} has no partition {sorted(missing)}: the events topic has more partitions"
            )
        tps = {number: TopicPartition(self.topic, number) for number in partitions}
        consumer.assign(list(tps.values()))
        accounts: dict[int, dict[str, AccountState]] = {}
        start: dict[int, int] = {}
        for number, tp in tps.items():
            snapshot = self._snapshots.get(number)
            if snapshot is not None:
                accounts[number] = {s.account_id: s for s in snapshot.state.accounts}
                start[number] = snapshot.position
            else:
                accounts[number] = {}
                start[number] = 0
            consumer.seek(tp, start[number])
        records = unreadable = 0
        pending = set(partitions)
        end: dict[int, int] = {}
        while pending:
            if self._retry.stop.is_set():
                return None
            polled = consumer.poll(timeout_ms=500)
            for tp, batch in polled.items():
                store = accounts[tp.partition]
                for record in batch:
                    records += 1
                    try:
                        account_id = record.key.decode("utf-8", "surrogatepass")
                    except (AttributeError, UnicodeDecodeError):  # no key, or not one of ours
                        unreadable += 1
                        continue
                    if record.value is None:
                        store.pop(account_id, None)
                        continue
                    try:
                        store[account_id] = decode_account(account_id, record.value)
                    except SnapshotError as error:
                        unreadable += 1
                        store.pop(account_id, None)
                        log.warning(
                            "state_record_unreadable",
                            partition=tp.partition,
                            offset=record.offset,
                            error=str(error),
                        )
            for number in list(pending):
                tp = tps[number]
                position = consumer.position(tp)
                highwater = consumer.highwater(tp)
                behind_start = position is not None and position < start[number]
                if behind_start or (highwater is not None and highwater < start[number]):
                    # The changelog is shorter than the snapshot (reset or recreated topic): the
                    # snapshot describes a log that no longer exists, so read it all afresh.
                    log.warning("changelog_truncated", partition=number, snapshot_position=start[number])
                    accounts[number] = {}
                    start[number] = 0
                    self._snapshots.pop(number, None)
                    consumer.seek(tp, 0)
                    continue
                if highwater is not None and position is not None and position >= highwater:
                    end[number] = position
                    pending.discard(number)
            if self._metrics:
                self._metrics.beat()
        from_snapshot = []
        total = 0
        for number in partitions:
            snapshot = self._snapshots.pop(number, None)
            if snapshot is not None and end[number] == snapshot.position:
                self._detector.adopt_partition(number, snapshot.state)  # nothing newer: keep as is
                from_snapshot.append(number)
            else:
                self._detector.restore_partition(number, accounts[number].values())
            self._position[number] = end[number]
            total += len(self._detector.partition(number).accounts)
        consumer.assign([])
        return RestoreReport(partitions, total, records, unreadable, from_snapshot, 0.0)

    # --- checkpoint -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every owned partition's changes since the last checkpoint; returns when they are
        acknowledged (retrying with backoff meanwhile). Step 2 of the commit order."""
        sent: list[int] = []
        states = tombstones = 0
        for number in list(self._detector.partitions):
            if number is None:
                continue
            changes = self._detector.take_changes(number)
            for state in changes.updated:
                self._producer.send(
                    self.topic,
                    state.account_id.encode("utf-8", "surrogatepass"),
                    encode_account(state),
                    partition=number,
                )
                sent.append(number)
            for account_id in changes.removed:
                self._producer.send(
                    self.topic, account_id.encode("utf-8", "surrogatepass"), None, partition=number
                )
                sent.append(number)
            states += len(changes.updated)
            tombstones += len(changes.removed)
        if not sent:
            return
        metadata = self._producer.flush()
        for number, meta in zip(sent, metadata, strict=True):
            if number in self._position:
                self._position[number] = max(self._position[number], meta.offset + 1)
        if self._metrics:
            self._metrics.changelog_records.labels(kind="state").inc(states)
            self._metrics.changelog_records.labels(kind="tombstone").inc(tombstones)
            self._measure_memory()

    def _measure_memory(self) -> None:
        """Memory per account, measured on a sample of the accounts held (see snapshot.memory_bytes)."""
        assert self._metrics is not None
        sample: list[Any] = []
        for owned in self._detector.partitions.values():
            for state in owned.accounts:
                sample.append(state)
                if len(sample) >= _MEMORY_SAMPLE:
                    break
            if len(sample) >= _MEMORY_SAMPLE:
                break
        if not sample:
            self._metrics.account_bytes.set(0)
            self._metrics.state_bytes.set(0)
            return
        per_account = sum(memory_bytes(s) for s in sample) / len(sample)
        self._metrics.account_bytes.set(per_account)
        self._metrics.state_bytes.set(per_account * self._detector.tracked_accounts)

    def close(self) -> None:
        self._producer.close()
        if self._restorer is not None:
            self._restorer.close(autocommit=False)
            self._restorer = None
