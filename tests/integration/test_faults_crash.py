"""`kill -9` of `detector run` mid-stream, then a restart: nothing lost, detection carries on."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from detector.kafka import create_topics
from detector.settings import Settings
from tests.factories import benign_stream, bulk_distillation_stream, by_time
from tests.integration.faults import (
    OFFSET_COMMIT,
    Gateway,
    ProcessWorker,
    broker_behind_stall,
    committed,
    final_changelog,
    partition_of,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
TRAFFIC = by_time(benign_stream(40, 10, seed=5), bulk_distillation_stream("acct_x", 1, 8, per_hour=300))


def alerts_logged(worker: ProcessWorker, before_last_commit: bool) -> list[tuple[str, int, str]]:
    """(alert_id, revision, account) of the worker's `alert_emitted` lines; with
    ``before_last_commit``, only those logged before its last successful offset commit."""
    lines = worker.events()
    if before_last_commit:
        last = max((i for i, e in enumerate(lines) if e.get("event") == "offsets_committed"), default=-1)
        lines = lines[: last + 1]
    return [
        (e["alert_id"], e["revision"], e["account_id"]) for e in lines if e.get("event") == "alert_emitted"
    ]


def commits(worker: ProcessWorker) -> int:
    return sum(1 for e in worker.events() if e.get("event") == "offsets_committed")


def test_kill_9_mid_stream_loses_nothing_and_detection_continues(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """SIGKILL while events stream in, restart: every event is consumed and counted exactly once
    in the restored state, every alert acknowledged before the crash is on the topic, duplicates
    keep their alert_id, and the attacker's first alert after the restart covers traffic from
    before the crash (its state was restored, not started over)."""
    settings = kafka_settings.model_copy(
        update={"topic_partitions": PARTITIONS, "max_poll_records": 50, "cooldown_seconds": 1800}
    )
    create_topics(settings)
    gateway = Gateway(settings, PARTITIONS)
    phase_a = len(TRAFFIC) * 2 // 5
    gateway.send(TRAFFIC[:phase_a])

    first = ProcessWorker(settings, tmp_path / "first.log", DETECTOR_LOG_LEVEL="debug")
    second: ProcessWorker | None = None
    try:
        wait_for(lambda: sum(committed(settings, PARTITIONS).values()) == phase_a, "phase A committed")
        # A burst, and the kill as soon as the worker has committed its first batch of it.
        burst = TRAFFIC[phase_a : len(TRAFFIC) * 4 // 5]
        commits_before = commits(first)
        gateway.send(burst)
        wait_for(lambda: commits(first) > commits_before, "the worker to work through the burst")
        first.kill9()
        resume = committed(settings, PARTITIONS)
        gateway.send(TRAFFIC[phase_a + len(burst) :])
        second = ProcessWorker(settings, tmp_path / "second.log")
        wait_for(
            lambda: committed(settings, PARTITIONS) == {p: len(v) for p, v in gateway.sent.items()},
            "everything committed after the restart",
            timeout_s=90,
        )
        assert second.terminate() == 0
    finally:
        first.ensure_stopped()
        if second is not None:
            second.ensure_stopped()
        gateway.close()

    # Killed mid-stream: part of the burst was committed, part was not.
    assert phase_a < sum(resume.values()) < phase_a + len(burst)
    # Every event consumed, and counted once in the state (the changelog is the state).
    sent_per_account = Counter(e["account_id"] for e in TRAFFIC)
    state = final_changelog(settings)
    assert {a: s.total_events for a, s in state.items()} == dict(sent_per_account)

    # No alert lost: everything acknowledged before the crash, and everything after, is there.
    records = read_topic(settings, settings.alerts_topic)
    on_topic = Counter((r.headers["alert_id"].decode(), int(r.headers["revision"])) for r in records)
    before = alerts_logged(first, before_last_commit=True)
    after = alerts_logged(second, before_last_commit=False)
    missing = {(a, r) for a, r, _ in before + after} - set(on_topic)
    assert not missing, f"alerts lost: {missing}"
    duplicates = sum(n - 1 for n in on_topic.values())
    documents = [orjson.loads(r.value or b"") for r in records]
    by_pair: dict[tuple[str, int], set[str]] = {}
    for doc in documents:
        by_pair.setdefault((doc["alert_id"], doc["revision"]), set()).add(doc["account_id"])
    assert all(len(accounts) == 1 for accounts in by_pair.values())

    # Detection carried on: caught before the crash, caught after it, from restored state.
    assert any(account == "acct_x" for _, _, account in before)
    first_after = next((a, r) for a, r, account in after if account == "acct_x")
    alert = next(d for d in documents if (d["alert_id"], d["revision"]) == first_after)
    p = partition_of("acct_x", PARTITIONS)
    resumed_at = next(
        orjson.loads(v)["timestamp"]
        for v in gateway.sent[p][resume[p] :]
        if orjson.loads(v)["account_id"] == "acct_x"
    )
    assert datetime.fromisoformat(alert["window"]["start"]) < datetime.fromisoformat(resumed_at)
    stopped = next(e for e in second.events() if e.get("event") == "worker_stopped")
    print(
        f"\nFIGURES kill-9: events sent={len(TRAFFIC)} committed={sum(committed(settings, PARTITIONS).values())} "
        f"counted in state={sum(s.total_events for s in state.values())} "
        f"uncommitted at the kill={phase_a + len(burst) - sum(resume.values())} "
        f"re-read and recognised as applied={stopped['duplicates']} "
        f"alerts on topic={sum(on_topic.values())} distinct={len(on_topic)} duplicates={duplicates} "
        f"lost={len(missing)}"
    )


def test_kill_9_while_commits_hang_replays_onto_state_that_already_holds_it(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """The broker stops acknowledging offset commits (the changelog runs ahead of the committed
    offsets), then kill -9: after the restart the re-read events are recognised as already
    applied (counted as duplicates, not folded in again), every event is counted exactly once in
    state, and every alert acknowledged before the crash is on the topic."""
    with broker_behind_stall(OFFSET_COMMIT) as (bootstrap, stall):
        settings = kafka_settings.model_copy(
            update={
                "bootstrap_servers": bootstrap,
                "topic_partitions": PARTITIONS,
                "max_poll_records": 100,
                "session_timeout_ms": 3000,
                "heartbeat_interval_ms": 500,
            }
        )
        create_topics(settings)
        gateway = Gateway(settings, PARTITIONS)
        phase_a = len(TRAFFIC) // 2
        gateway.send(TRAFFIC[:phase_a])
        first = ProcessWorker(settings, tmp_path / "first.log", DETECTOR_LOG_LEVEL="debug")
        second: ProcessWorker | None = None
        try:
            wait_for(lambda: sum(committed(settings, PARTITIONS).values()) == phase_a, "phase A committed")
            stall.engaged.set()
            gateway.send(TRAFFIC[phase_a:])
            wait_for(
                lambda: sum(e.get("event") == "commit_deferred" for e in first.events()) >= 2,
                "batches checkpointed whose commits hang",
            )
            first.kill9()
            stall.drop_held()  # what the dead worker sent never arrives
            stall.engaged.clear()
            resume = committed(settings, PARTITIONS)
            second = ProcessWorker(settings, tmp_path / "second.log")
            wait_for(
                lambda: committed(settings, PARTITIONS) == {p: len(v) for p, v in gateway.sent.items()},
                "everything committed after the restart",
                timeout_s=90,
            )
            assert second.terminate() == 0
        finally:
            first.ensure_stopped()
            if second is not None:
                second.ensure_stopped()
            gateway.close()
        state = final_changelog(settings)
        records = read_topic(settings, settings.alerts_topic)

    assert sum(resume.values()) == phase_a, "no commit got through while they hung"
    stopped = next(e for e in second.events() if e.get("event") == "worker_stopped")
    assert stopped["duplicates"] > 0, "the restarted worker re-read events the state already held"
    assert {a: s.total_events for a, s in state.items()} == dict(Counter(e["account_id"] for e in TRAFFIC))
    on_topic = Counter((r.headers["alert_id"].decode(), int(r.headers["revision"])) for r in records)
    lines = first.events()
    last = max(i for i, e in enumerate(lines) if e.get("event") == "commit_deferred")
    acknowledged = {(e["alert_id"], e["revision"]) for e in lines[:last] if e.get("event") == "alert_emitted"}
    assert acknowledged <= set(on_topic)
    print(
        f"\nFIGURES kill-9 with hung commits: events={len(TRAFFIC)} committed before the kill={sum(resume.values())} "
        f"re-read and recognised as already applied={stopped['duplicates']} counted in state="
        f"{sum(s.total_events for s in state.values())} alerts on topic={sum(on_topic.values())} "
        f"duplicates={sum(n - 1 for n in on_topic.values())}"
    )
