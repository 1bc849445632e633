"""Two workers in one consumer group: one joins late, one leaves; state follows its partitions."""

from __future__ import annotations

from collections import Counter

import pytest

from detector.kafka import create_topics
from detector.settings import Settings
from tests.factories import benign_stream, bulk_distillation_stream, by_time
from tests.integration.faults import (
    Gateway,
    Ownership,
    RecordingDetector,
    WorkerThread,
    committed,
    final_changelog,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4
TRAFFIC = by_time(benign_stream(80, 9, seed=7), bulk_distillation_stream("acct_x", 1, 7, per_hour=200))


def test_partitions_and_their_state_move_between_workers_without_loss_or_overlap(
    kafka_settings: Settings,
) -> None:
    """W1 alone, W2 joins mid-stream, W1 leaves mid-stream: every event is committed and counted
    exactly once in its account's state, W2 restores only the partitions it is given, and no
    partition is held or processed by both workers at the same time."""
    settings = kafka_settings.model_copy(update={"topic_partitions": PARTITIONS, "max_poll_records": 100})
    create_topics(settings)
    gateway = Gateway(settings, PARTITIONS)
    log = Ownership()
    third = len(TRAFFIC) // 3

    def all_committed() -> bool:
        return committed(settings, PARTITIONS) == {p: len(v) for p, v in gateway.sent.items()}

    gateway.send(TRAFFIC[:third])
    w1 = WorkerThread(settings, RecordingDetector(settings, "w1", log))
    w2: WorkerThread | None = None
    try:
        w1.wait_until(all_committed, "W1 alone commits the first third")
        # W2 joins while the second third streams in.
        gateway.send(TRAFFIC[third : third + third // 2])
        w2 = WorkerThread(settings, RecordingDetector(settings, "w2", log))
        gateway.send(TRAFFIC[third + third // 2 : 2 * third])
        w2.wait_until(lambda: bool(w2 and w2.worker.source.assigned) and all_committed(), "W2 has partitions")
        w2_first_share = {tp.partition for tp in w2.worker.source.assigned}
        w1_share = {tp.partition for tp in w1.worker.source.assigned}
        # W1 leaves while the last third streams in.
        gateway.send(TRAFFIC[2 * third : 2 * third + third // 2])
        w1.shutdown()
        gateway.send(TRAFFIC[2 * third + third // 2 :])
        w2.wait_until(all_committed, "W2 commits everything after W1 left")
        assert {tp.partition for tp in w2.worker.source.assigned} == set(range(PARTITIONS))
        restored_by_w2 = w2.counter("detector_state_restored_accounts_total")
        w2.shutdown()
    finally:
        if w1.alive:
            w1.shutdown()
        if w2 is not None and w2.alive:
            w2.shutdown()
        gateway.close()

    # The group split the partitions, and W2 restored state (only for what it was given).
    assert w2_first_share and w1_share and not (w2_first_share & w1_share)
    assert len(w2_first_share) < PARTITIONS
    assert restored_by_w2 > 0
    # Nothing lost, nothing counted twice: each account's restored-and-continued state holds
    # exactly the events sent for it, whichever workers processed them.
    state = final_changelog(settings)
    assert {a: s.total_events for a, s in state.items()} == dict(Counter(e["account_id"] for e in TRAFFIC))
    # Never two owners at once: per partition, the workers' holding intervals are disjoint and
    # every record was processed by a worker while it held that partition.
    for partition in range(PARTITIONS):
        spans = {w: log.intervals(w, partition) for w in ("w1", "w2")}
        for a_start, a_end in spans["w1"]:
            for b_start, b_end in spans["w2"]:
                assert a_end <= b_start or b_end <= a_start, f"partition {partition} held twice"
    for t, worker, partition in log.processed:
        assert any(start <= t <= end for start, end in log.intervals(worker, partition)), (
            f"{worker} processed partition {partition} without holding it"
        )
    moved = {p for p in range(PARTITIONS) if log.intervals("w1", p) and log.intervals("w2", p)}
    assert moved == set(range(PARTITIONS))
    print(
        f"\nFIGURES rebalance: events sent={len(TRAFFIC)} counted in state={sum(s.total_events for s in state.values())} "
        f"processed records={len(log.processed)} W2 first share={sorted(w2_first_share)} "
        f"accounts restored by W2={restored_by_w2:.0f}"
    )
