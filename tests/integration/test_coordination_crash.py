"""`kill -9` while a hydra campaign grows: after each restart it carries on under its alert_id."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.kafka import coordination_changelog_topic, create_topics
from detector.pipeline.coordination import Campaign
from detector.pipeline.coordination_snapshot import decode_campaign, decode_key
from detector.settings import Settings
from tests.factories import benign_stream, by_time, hydra_stream
from tests.integration.faults import Gateway, ProcessWorker, committed, read_topic, wait_for

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
