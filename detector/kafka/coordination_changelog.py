"""The coordination stage's clusters survive crashes, restarts and rebalances: the ``campaigns`` store.

Its changelog is ``<group_id>-campaigns-changelog``, compacted, partitioned like the input of
the process that runs the stage: the events topic for a worker in ``inline`` mode, the
fingerprints topic for ``detector coordinate`` (group ``<group_id>-coordination``, so its topic
is ``<group_id>-coordination-campaigns-changelog``). Records (``pipeline/coordination_snapshot``):

* ``member:<account>`` in the partition of the input record whose fingerprint it last came from;
* ``campaign:<id>`` in every partition that holds one of its members (a handful of small copies,
  written together), so that whoever owns any of those partitions restores the campaign.

A worker therefore restores the suspicious accounts of its own partitions and the campaigns they
are in; the one-worker deployment that ``inline`` is meant for restores everything.

* **Checkpoint** (``flush``): the members and campaigns changed since the last checkpoint (a
  closed campaign as a record without members, where it was), plus a tombstone for each member
  that expired or left at its campaign's closing and each campaign that was absorbed, emptied or
  whose closed record lapsed; returns once acknowledged. The runner does this before the accounts changelog (step 2 of its commit
  order): if a crash cuts step 2 short, the campaigns are the ones ahead, and fingerprints that
  the account stage re-sends for the re-read events fold in again without a new revision.
* **Restore** (``restore``): a newly assigned partition stays paused until this store (as well as
  the accounts store) has read its changelog partitions from the start to the high-water mark,
  keeping the last record per key — what compaction keeps, so it is also exact on a broker that
  never compacts.
* **Revoke** (``revoked``): the partitions' members leave the stage (their records stay, for the
  new owner); a campaign whose members are all elsewhere goes with them.
"""

from __future__ import annotations

import time

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from detector.kafka.changelog import COORDINATION_STORE, ChangelogTopicError, changelog_topic
from detector.kafka.delivery import AckedProducer
from detector.kafka.retry import Retry
from detector.metrics import Metrics
from detector.pipeline.coordination import Campaign, CoordinationStage, Member, campaign_progress
from detector.pipeline.coordination_snapshot import (
    CoordinationSnapshotError,
    campaign_key,
    decode_campaign,
    decode_key,
    decode_member,
    encode_campaign,
    encode_member,
    member_key,
)
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")


def coordination_changelog_topic(settings: Settings) -> str:
    """The campaigns store's changelog of this process's group (see the module docstring)."""
    return changelog_topic(settings, COORDINATION_STORE)


class CoordinationChangelog:
    """The ``campaigns`` store: restore on assignment, write on checkpoint, drop on revoke.

    Speaks the same partition-listener and state-backend calls as ``ChangelogState``, so that
    ``Stores`` can put the two behind one source.
    """

    def __init__(
        self,
        settings: Settings,
        stage: CoordinationStage,
        metrics: Metrics | None = None,
        retry: Retry | None = None,
    ) -> None:
        self.topic = coordination_changelog_topic(settings)
        self._settings = settings
        self._stage = stage
        stage.track_changes = True
        self._metrics = metrics
        self._retry = retry or Retry(settings, metrics=metrics)
        self._producer = AckedProducer(
            settings, "changelog", metrics, self._retry, linger_ms=max(5, settings.producer_linger_ms)
        )
        self._restorer: KafkaConsumer | None = None
        self._owned: set[int] = set()
        self._to_restore: set[int] = set()

    # --- partition listener -------------------------------------------------------------------
    def revoked(self, partitions: set[int]) -> None:
        """The partitions' members and the campaigns left without members leave the stage."""
        self._to_restore -= partitions
        self._owned -= partitions
        dropped = self._stage.drop_partitions(set(partitions))
        log.info("coordination_state_dropped", partitions=sorted(partitions), members=dropped)

    def assigned(self, partitions: set[int]) -> None:
        """``partitions`` = everything now assigned; those not held yet are to be restored."""
        gone = self._owned - partitions
        if gone:
            self.revoked(gone)
        self._to_restore |= partitions - self._owned

    @property
    def restoring(self) -> set[int]:
        return set(self._to_restore)

    # --- restore --------------------------------------------------------------------------------
    def restore(self) -> set[int]:
        """Read the changelog of the partitions assigned since the last call and install it;
        returns the partitions restored (none if a stop was requested meanwhile)."""
        partitions = sorted(self._to_restore)
        if not partitions:
            return set()
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                read = self._read(partitions)
                break
            except KafkaError as error:
                if not self._retry.wait("restore", attempt, error, hold=False):
                    return set()
                attempt += 1
        if read is None:
            return set()
        members, campaigns, records, unreadable = read
        self._stage.restore(members, campaigns)
        self._to_restore.difference_update(partitions)
        self._owned.update(partitions)
        if self._metrics:
            self._metrics.restored_records.inc(records)
            self._metrics.unreadable_records.inc(unreadable)
        log.info(
            "state_restored",
            store=COORDINATION_STORE,
            partitions=partitions,
            members=len(members),
            campaigns=len(campaigns),
            records=records,
            unreadable=unreadable,
            seconds=round(time.perf_counter() - started, 3),
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
                reconnect_backoff_ms=self._settings.retry_backoff_ms,
                reconnect_backoff_max_ms=self._settings.retry_backoff_max_ms,
            )
        return self._restorer

    def _read(
        self, partitions: list[int]
    ) -> (
        tuple[dict[str, tuple[Member, str | None]], dict[str, tuple[Campaign, set[int | None]]], int, int]
        | None
    ):
        """The last record per key of each partition, decoded; None if a stop was requested."""
        consumer = self._consumer()
        available = consumer.partitions_for_topic(self.topic)
        if not available:
            raise KafkaError(f"changelog topic {self.topic} not visible")
        if missing := set(partitions) - available:
            raise ChangelogTopicError(
                f"{self.topic} has no partition {sorted(missing)}: the input topic has more partitions"
            )
        tps = {number: TopicPartition(self.topic, number) for number in partitions}
        consumer.assign(list(tps.values()))
        for tp in tps.values():
            consumer.seek(tp, 0)
        latest: dict[tuple[int, bytes | None], bytes | None] = {}
        records = 0
        pending = set(partitions)
        while pending:
            if self._retry.stop.is_set():
                consumer.assign([])
                return None
            for tp, batch in consumer.poll(timeout_ms=500).items():
                for record in batch:
                    records += 1
                    latest[(tp.partition, record.key)] = record.value
            for number in list(pending):
                position = consumer.position(tps[number])
                highwater = consumer.highwater(tps[number])
                if highwater is not None and position is not None and position >= highwater:
                    pending.discard(number)
            if self._metrics:
                self._metrics.beat()
        consumer.assign([])
        members: dict[str, tuple[Member, str | None]] = {}
        campaigns: dict[str, tuple[Campaign, set[int | None]]] = {}
        unreadable = 0
        for (partition, key), value in latest.items():
            if value is None:
                continue  # tombstone: forgotten
            try:
                kind, ident = decode_key(key)
                if kind == "member":
                    member, campaign_id = decode_member(value, partition)
                    known = members.get(ident)
                    if known is None or known[0].seq < member.seq:  # moved partitions: the newer
                        members[ident] = (member, campaign_id)
                else:
                    campaign = decode_campaign(ident, value)
                    known_campaign = campaigns.get(ident)
                    if known_campaign is None:
                        campaigns[ident] = (campaign, {partition})
                    else:
                        if campaign_progress(campaign) > campaign_progress(known_campaign[0]):
                            campaigns[ident] = (campaign, known_campaign[1])
                        campaigns[ident][1].add(partition)
            except CoordinationSnapshotError as error:
                unreadable += 1
                log.warning(
                    "state_record_unreadable", store=COORDINATION_STORE, partition=partition, error=str(error)
                )
        return members, campaigns, records, unreadable

    # --- checkpoint -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what changed since the last checkpoint; returns once it is acknowledged."""
        changes = self._stage.take_changes()
        sent = 0
        for account, member, campaign_id in changes.members:
            self._send(member.partition, member_key(account), encode_member(member, campaign_id))
            sent += 1
        for campaign, partitions in changes.campaigns:
            value = encode_campaign(campaign)
            for partition in partitions:
                self._send(partition, campaign_key(campaign.campaign_id), value)
                sent += 1
        tombstones = 0
        for partition, account in changes.removed_members:
            self._send(partition, member_key(account), None)
            tombstones += 1
        for partition, campaign_id in changes.removed_campaigns:
            self._send(partition, campaign_key(campaign_id), None)
            tombstones += 1
        if not sent and not tombstones:
            return
        self._producer.flush()
        if self._metrics:
            self._metrics.changelog_records.labels(kind="campaign_state").inc(sent)
            self._metrics.changelog_records.labels(kind="campaign_tombstone").inc(tombstones)

    def _send(self, partition: int | None, key: bytes, value: bytes | None) -> None:
        if partition is None:  # pragma: no cover - Kafka records always have a partition
            raise ValueError("coordination state of a record without a partition")
        self._producer.send(self.topic, key, value, partition=partition)

    def close(self) -> None:
        self._producer.close()
        if self._restorer is not None:
            self._restorer.close(autocommit=False)
            self._restorer = None
