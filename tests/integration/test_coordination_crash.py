"""`kill -9` or a rebalance while a hydra campaign grows: it carries on under its alert_id."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.cli import coordination_settings
from detector.kafka import coordination_changelog_topic, create_topics
from detector.pipeline.coordination import Campaign
from detector.pipeline.coordination_snapshot import decode_campaign, decode_key
from detector.settings import Settings
from tests.factories import benign_stream, by_time, hydra_stream
from tests.integration.faults import (
    Gateway,
    ProcessWorker,
    RecordingDetector,
    WorkerThread,
    committed,
    read_topic,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.integration

HYDRA = 24
# 24 accounts sharing a playbook; the campaign alert is founded at ~event 230 and grows to all 24
# members by ~event 400 (revisions 1-7 without a restart).
TRAFFIC = by_time(benign_stream(30, 10, seed=5), hydra_stream(HYDRA, 1, 8, per_hour=8))
GROWING = (270, 320)  # after its third and fifth revision: the campaign is part-grown


def campaign_alerts(settings: Settings) -> list[dict[str, Any]]:
    documents = [orjson.loads(r.value or b"") for r in read_topic(settings, settings.alerts_topic)]
    return [d for d in documents if d["category"] == "coordinated_extraction"]


def logged(worker: ProcessWorker, alert_ids: set[str], before_last_commit: bool) -> list[int]:
    """Revisions of ``alert_ids`` the worker logged (only those before its last commit, if asked)."""
    lines = worker.events()
    if before_last_commit:
        last = max((i for i, e in enumerate(lines) if e.get("event") == "offsets_committed"), default=-1)
        lines = lines[: last + 1]
    return [e["revision"] for e in lines if e.get("event") == "alert_emitted" and e["alert_id"] in alert_ids]


def commits(worker: ProcessWorker) -> int:
    return sum(1 for e in worker.events() if e.get("event") == "offsets_committed")


def final_campaigns(settings: Settings) -> dict[str, Campaign]:
    """The campaigns store as compaction would leave it (last record per key, tombstones applied)."""
    campaigns: dict[str, Campaign] = {}
    for record in read_topic(settings, coordination_changelog_topic(settings)):
        kind, ident = decode_key(record.key)
        if kind != "campaign":
            continue
        if record.value is None:
            campaigns.pop(ident, None)
        else:
            campaigns[ident] = decode_campaign(ident, record.value)
    return campaigns


def test_kill_9_while_a_campaign_grows_keeps_its_alert_id_and_revisions(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """One partition, `detector run` killed with SIGKILL part-way through a hydra's growth (twice
    idle after a commit, once mid-burst) and restarted each time: there is one campaign alert_id
    on the topic, its revisions run 1..n without a gap, each restarted worker goes on from the
    revision the checkpoint held (never from 1), every revision acknowledged before a kill is on
    the topic, and the last revision names all 24 accounts."""
    settings = kafka_settings.model_copy(
        update={"topic_partitions": 1, "max_poll_records": 50, "cooldown_seconds": 1800}
    )
    create_topics(settings)
    gateway = Gateway(settings, 1)
    workers: list[ProcessWorker] = []

    def start(name: str) -> ProcessWorker:
        workers.append(ProcessWorker(settings, tmp_path / f"{name}.log", DETECTOR_LOG_LEVEL="debug"))
        return workers[-1]

    def all_committed() -> bool:
        return committed(settings, 1)[0] == len(gateway.sent[0])

    try:
        # Two kills while idle after a commit, each part-way through the campaign's growth ...
        sent = 0
        for name, upto in (("first", GROWING[0]), ("second", GROWING[1])):
            gateway.send(TRAFFIC[sent:upto])
            sent = upto
            worker = start(name)
            wait_for(all_committed, f"events up to {upto} committed")
            worker.kill9()
            if name == "first":
                after_first = {a["alert_id"] for a in campaign_alerts(settings)}
                assert len(after_first) == 1, "the campaign alerted before the first kill"
        # ... and one in the middle of a burst, with a batch in hand.
        third = start("third")
        commits_before = commits(third)
        burst = TRAFFIC[sent : len(TRAFFIC) * 3 // 5]
        gateway.send(burst)
        wait_for(lambda: commits(third) > commits_before, "the third worker to commit part of the burst")
        third.kill9()
        gateway.send(TRAFFIC[sent + len(burst) :])
        last_worker = start("fourth")
        wait_for(all_committed, "everything committed after the last restart", timeout_s=90)
        assert last_worker.terminate() == 0
    finally:
        for worker in workers:
            worker.ensure_stopped()
        gateway.close()

    alerts = campaign_alerts(settings)
    ids = {a["alert_id"] for a in alerts}
    assert ids == after_first, "one campaign, one alert_id, through both restarts"
    revisions = sorted({a["revision"] for a in alerts})
    assert revisions == list(range(1, revisions[-1] + 1)), f"revisions with a gap: {revisions}"
    # Each restart went on from its checkpoint: the first revision it emitted follows one that
    # was acknowledged before the kill (a re-emitted revision, if any, is the same pair).
    for killed, restarted in itertools.pairwise(workers):
        acknowledged = logged(killed, ids, before_last_commit=True)
        resumed = logged(restarted, ids, before_last_commit=False)
        if acknowledged and resumed:
            assert resumed[0] > 1 and resumed[0] <= max(acknowledged) + 1, (acknowledged, resumed)
    assert logged(workers[1], ids, False) and logged(workers[2], ids, False), "grew after each restart"
    # Nothing lost: every revision logged before a commit is on the topic.
    on_topic = set(revisions)
    for worker in workers[:3]:
        assert set(logged(worker, ids, before_last_commit=True)) <= on_topic
    last = max(alerts, key=lambda a: a["revision"])
    assert {last["account_id"], *last["related_accounts"]} == {f"acct_h{i}" for i in range(HYDRA)}
    # The checkpoint holds the campaign as it last alerted.
    stored = final_campaigns(settings)
    assert set(stored) == ids and stored[last["alert_id"]].revision == last["revision"]
    print(
        f"\nFIGURES campaign through kill -9 x3: events={len(TRAFFIC)} alert_ids={len(ids)} "
        f"revisions={revisions[-1]} on topic={len(alerts)} duplicates={len(alerts) - len(on_topic)} "
        f"per worker={[logged(w, ids, False) for w in workers]}"
    )


class Coordinator(ProcessWorker):
    """``detector coordinate`` as a process (same log file handling as ``detector run``)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in terminate()/kill9()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "detector", "coordinate"],
            env=worker_env(settings, DETECTOR_METRICS_PORT="0", DETECTOR_LOG_LEVEL="debug"),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )


def test_kill_9_of_the_coordinator_keeps_the_campaign_going(kafka_settings: Settings, tmp_path: Path) -> None:
    """Topic mode: the account stage publishes fingerprints over two partitions, `detector
    coordinate` is killed with SIGKILL part-way through the hydra's growth and restarted; the
    campaign keeps its alert_id, its revisions run on without a gap from the checkpoint's, and
    the last revision names all 24 accounts."""
    settings = kafka_settings.model_copy(
        update={
            "topic_partitions": 2,
            "max_poll_records": 50,
            "cooldown_seconds": 1800,
            "coordination_mode": "topic",
            "fingerprints_topic": f"{kafka_settings.events_topic}-fp",
        }
    )
    stage_settings = coordination_settings(settings)
    create_topics(settings)
    gateway = Gateway(settings, 2)
    account_stage: WorkerThread | None = None
    coordinators: list[Coordinator] = []

    def fingerprints_sent() -> dict[int, int]:
        fingerprints = read_topic(settings, settings.fingerprints_topic, timeout_s=2)
        return {p: sum(1 for r in fingerprints if r.partition == p) for p in range(2)}

    def caught_up() -> bool:
        return (
            committed(settings, 2) == {p: len(v) for p, v in gateway.sent.items()}
            and committed(stage_settings, 2) == fingerprints_sent()
        )

    def commit_logged(coordinator: Coordinator) -> bool:
        """The coordinator's log shows the commit the broker holds: the line is written after
        the commit returns, so a kill right after the broker has it could cut it off."""
        reached: dict[int, int] = {}
        for line in coordinator.events():
            if line.get("event") == "offsets_committed":
                for partition, offset in line["offsets"].items():
                    reached[int(partition)] = max(reached.get(int(partition), 0), offset)
        return all(reached.get(p, 0) >= n for p, n in fingerprints_sent().items() if n)

    try:
        account_stage = WorkerThread(settings)
        gateway.send(TRAFFIC[: GROWING[0]])
        coordinators.append(Coordinator(settings, tmp_path / "first.log"))
        wait_for(caught_up, "the first part through both stages")
        wait_for(lambda: commit_logged(coordinators[0]), "the first coordinator's last commit logged")
        coordinators[0].kill9()
        before = campaign_alerts(settings)
        assert len({a["alert_id"] for a in before}) == 1, "the campaign alerted before the kill"
        gateway.send(TRAFFIC[GROWING[0] :])
        coordinators.append(Coordinator(settings, tmp_path / "second.log"))
        wait_for(caught_up, "everything through both stages after the restart", timeout_s=90)
        assert coordinators[1].terminate() == 0
    finally:
        if account_stage is not None:
            account_stage.shutdown()
        for coordinator in coordinators:
            coordinator.ensure_stopped()
        gateway.close()

    alerts = campaign_alerts(settings)
    ids = {a["alert_id"] for a in alerts}
    assert ids == {a["alert_id"] for a in before}
    revisions = sorted({a["revision"] for a in alerts})
    assert revisions == list(range(1, revisions[-1] + 1)), f"revisions with a gap: {revisions}"
    acknowledged = logged(coordinators[0], ids, before_last_commit=True)
    resumed = logged(coordinators[1], ids, before_last_commit=False)
    assert resumed and 1 < resumed[0] <= max(acknowledged) + 1, (acknowledged, resumed)
    last = max(alerts, key=lambda a: a["revision"])
    assert {last["account_id"], *last["related_accounts"]} == {f"acct_h{i}" for i in range(HYDRA)}
    stored = final_campaigns(stage_settings)
    assert set(stored) == ids and stored[last["alert_id"]].revision == last["revision"]
    print(f"\nFIGURES coordinator through kill -9: revisions before={acknowledged} after={resumed}")


def test_a_campaign_moves_with_its_partition_to_another_worker(kafka_settings: Settings) -> None:
    """In-process workers, one partition: W1 runs the first part of the hydra, W2 joins, W1 leaves
    mid-growth; W2 restores the campaign with the partition (revoked from W1, dropped there) and
    goes on with the next revision of the same alert_id, with no gap and no revision twice."""
    settings = kafka_settings.model_copy(
        update={"topic_partitions": 1, "max_poll_records": 50, "cooldown_seconds": 1800}
    )
    create_topics(settings)
    gateway = Gateway(settings, 1)

    def all_committed() -> bool:
        return committed(settings, 1)[0] == len(gateway.sent[0])

    w1 = WorkerThread(settings, RecordingDetector(settings, "w1"))
    w2: WorkerThread | None = None
    try:
        gateway.send(TRAFFIC[: GROWING[0]])
        w1.wait_until(all_committed, "W1 commits the first part")
        w2 = WorkerThread(settings, RecordingDetector(settings, "w2"))
        # W1 leaves only once W2 is in the group (a leave in mid-join can stall tansu's group).
        w2.wait_until(lambda: w2 is not None and w2.worker.source.rebalances > 0, "W2 joins the group")
        gateway.send(TRAFFIC[GROWING[0] : GROWING[1]])
        w2.wait_until(all_committed, "the group commits the second part")
        w1.shutdown()
        gateway.send(TRAFFIC[GROWING[1] :])
        w2.wait_until(
            lambda: all_committed() and bool(w2 and w2.worker.source.assigned), "W2 commits everything"
        )
        w2.shutdown()
    finally:
        if w1.alive:
            w1.shutdown()
        if w2 is not None and w2.alive:
            w2.shutdown()
        gateway.close()

    assert isinstance(w1.detector, RecordingDetector) and isinstance(w2.detector, RecordingDetector)
    by_worker = {
        name: [(a.alert_id, a.revision) for a in worker.alerts if a.category == "coordinated_extraction"]
        for name, worker in (("w1", w1.detector), ("w2", w2.detector))
    }
    emitted = by_worker["w1"] + by_worker["w2"]
    assert len({alert_id for alert_id, _ in emitted}) == 1, by_worker
    revisions = [revision for _, revision in emitted]
    assert sorted(revisions) == list(range(1, len(revisions) + 1)), by_worker
    assert by_worker["w1"] and by_worker["w2"], "the campaign grew on both sides of the handover"
    last = max(campaign_alerts(settings), key=lambda a: a["revision"])
    assert {last["account_id"], *last["related_accounts"]} == {f"acct_h{i}" for i in range(HYDRA)}
    assert final_campaigns(settings)[last["alert_id"]].revision == last["revision"]
    print(
        "\nFIGURES campaign handover: revisions by worker="
        f"{ {name: [revision for _, revision in pairs] for name, pairs in by_worker.items()} }"
    )
