"""The run loop tells the coordination stage which partitions it has not read to the end."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from detector.events import Alert, Rejected
from detector.pipeline.coordination import Fingerprint, encode_fingerprint
from detector.pipeline.step import CoordinationProcessor, SourceRef
from detector.runner import SourceRecord, run_loop
from detector.settings import Settings

T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
HOUR = 3600.0
HYDRA_KEYS = (("template", 41), ("template", 42), ("network", 7))


class ScriptedSource:
    """Batches from two fingerprints partitions, each with the partitions that, after it, still
    hold records on the broker (what ``KafkaSource`` reads from the high-water marks)."""

    def __init__(self, script: list[tuple[list[SourceRecord], set[int | None]]]) -> None:
        self._script = list(script)
        self._unread: set[int | None] = set()

    def poll(self) -> Sequence[SourceRecord]:
        if not self._script:
            return []
        batch, self._unread = self._script.pop(0)
        return batch

    def commit(self, batch: Sequence[SourceRecord]) -> None:
        pass

    @property
    def exhausted(self) -> bool:
        return not self._script

    def unread_partitions(self) -> set[int | None]:
        return set(self._unread)

    def close(self) -> None:
        pass


class CollectingSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def send_dead_letter(self, rejected: Rejected) -> None:
        raise AssertionError(rejected)

    def send_fingerprint(self, fingerprint: Fingerprint) -> None:
        raise AssertionError(fingerprint)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def record(
    partition: int, offset: int, account: str, at: float, keys: tuple[tuple[str, int], ...]
) -> SourceRecord:
    fingerprint = Fingerprint(account, None, at, at, 8.0, 40, 80_000, keys)
    return SourceRecord(encode_fingerprint(fingerprint), SourceRef("fp", partition, offset, account.encode()))


def campaign_alerts(script: list[tuple[list[SourceRecord], set[int | None]]]) -> list[Alert]:
    processor = CoordinationProcessor(Settings(), clock=lambda: datetime(2026, 11, 25, tzinfo=UTC))
    sink = CollectingSink()
    run_loop(processor, ScriptedSource(script), sink, threading.Event())
    return sink.alerts


def test_a_partition_read_ahead_does_not_close_a_campaign_whose_partition_has_a_backlog() -> None:
    """A hydra's fingerprints are in partition 0; partition 1 (other accounts) is read 7 h ahead
    while partition 0 still has a backlog, as after a restart. The campaign is not closed on
    partition 1's time: its next member joins it under the same alert_id. Once partition 0 is
    read to its end and then stays quiet for the close delay, the campaign closes after all."""
    hydra = [record(0, i, f"acct_h{i}", T0 + 60 * i, HYDRA_KEYS) for i in range(6)]
    script: list[tuple[list[SourceRecord], set[int | None]]] = [
        (hydra, {0, 1}),
        ([record(1, 0, "elsewhere", T0 + 7 * HOUR, (("network", 99),))], {0}),
        ([record(0, 6, "acct_h6", T0 + HOUR, HYDRA_KEYS)], set()),
        ([record(1, 1, "elsewhere", T0 + 8 * HOUR, (("network", 99),))], set()),
    ]
    alerts = campaign_alerts(script)
    assert len({a.alert_id for a in alerts}) == 1
    closing = [a for a in alerts if a.status == "closed"]
    assert len(closing) == 1 and alerts[-1] is closing[0]
    named = {a.account_id for a in alerts} | {r for a in alerts for r in a.related_accounts}
    assert "acct_h6" in named


def test_without_a_backlog_the_time_of_any_partition_closes_a_quiet_campaign() -> None:
    """The same stream with partition 0 reported read to its end: partition 1's time is the
    stage's time, the quiet campaign closes there, and its late member starts no alert of it."""
    hydra = [record(0, i, f"acct_h{i}", T0 + 60 * i, HYDRA_KEYS) for i in range(6)]
    script: list[tuple[list[SourceRecord], set[int | None]]] = [
        (hydra, set()),
        ([record(1, 0, "elsewhere", T0 + 7 * HOUR, (("network", 99),))], set()),
    ]
    alerts = campaign_alerts(script)
    assert [a.status for a in alerts][-1] == "closed"
    assert len({a.alert_id for a in alerts}) == 1
