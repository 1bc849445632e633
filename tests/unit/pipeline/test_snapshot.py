"""Account state to changelog bytes and back; checkpoint and restore are invisible to detection."""

from __future__ import annotations

import struct
import zlib
from array import array
from datetime import UTC, datetime, timedelta

import pytest

from detector.events import Alert
from detector.pipeline.snapshot import (
    SnapshotError,
    decode_account,
    encode_account,
    memory_bytes,
)
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector, SourceRef
from detector.settings import Settings
from tests.factories import START, benign_stream, bulk_distillation_stream, by_time, encode, event

FIXED_NOW = datetime(2026, 11, 25, tzinfo=UTC)
TRAFFIC = [encode(e) for e in by_time(benign_stream(120, 10), bulk_distillation_stream("acct_x", 3, 7))]


def slots(state: AccountState) -> dict[str, object]:
    return {name: getattr(state, name) for name in AccountState.__slots__}


def run(detector: Detector, raws: list[bytes], first_offset: int = 0) -> list[Alert]:
    alerts: list[Alert] = []
    for offset, raw in enumerate(raws, start=first_offset):
        alerts.extend(detector.process_one(raw, SourceRef("api-calls", 0, offset)).alerts)
    return alerts


def checkpoint_and_restore(detector: Detector) -> Detector:
    """What a crash and a restart do to a worker: everything but the changelog is lost."""
    changes = detector.take_changes(0)
    records = {s.account_id: encode_account(s) for s in changes.updated}
    fresh = Detector(Settings(), clock=lambda: FIXED_NOW)
    fresh.restore_partition(0, [decode_account(account, value) for account, value in records.items()])
    return fresh


def test_round_trip_keeps_every_slot() -> None:
    """After real traffic, decode(encode(state)) equals the state in every slot."""
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    run(detector, TRAFFIC)
    for state in detector.partition(0).accounts:
        assert slots(decode_account(state.account_id, encode_account(state))) == slots(state)


def test_restart_from_the_changelog_continues_detection_unchanged() -> None:
    """Checkpoint mid-stream, restore into a fresh detector (its population model starts cold),
    go on: the same accounts alert with the same alert ids as in an uninterrupted run."""
    cut = len(TRAFFIC) // 2
    uninterrupted = Detector(Settings(), clock=lambda: FIXED_NOW)
    run(uninterrupted, TRAFFIC[:cut])
    expected = run(uninterrupted, TRAFFIC[cut:], cut)
    before = Detector(Settings(), clock=lambda: FIXED_NOW)
    run(before, TRAFFIC[:cut])
    after = run(checkpoint_and_restore(before), TRAFFIC[cut:], cut)
    assert expected, "the attack should still alert after the cut"
    assert {(a.account_id, a.alert_id) for a in after} == {(a.account_id, a.alert_id) for a in expected}


def test_replaying_events_already_in_the_checkpoint_changes_nothing() -> None:
    """A batch re-read after a crash between checkpoint and commit is recognised event by event
    (each account's applied offset) and leaves the state and the alerts as they were."""
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    run(detector, TRAFFIC[:3000])
    restored = checkpoint_and_restore(detector)
    before = {s.account_id: encode_account(s) for s in restored.partition(0).accounts}
    results = [
        restored.process_one(raw, SourceRef("api-calls", 0, i))
        for i, raw in enumerate(TRAFFIC[2500:3000], 2500)
    ]
    assert all(r.duplicate and not r.alerts for r in results)
    assert {s.account_id: encode_account(s) for s in restored.partition(0).accounts} == before


def test_changes_are_drained_and_expired_accounts_become_tombstones() -> None:
    """take_changes returns what changed since the last call, and ids the TTL sweep dropped."""
    settings = Settings(account_ttl_seconds=3600)
    detector = Detector(settings, clock=lambda: FIXED_NOW)
    detector.process_one(encode(event("acct_old", START)), SourceRef("t", 0, 0))
    first = detector.take_changes(0)
    assert [s.account_id for s in first.updated] == ["acct_old"] and not first.removed
    assert not detector.take_changes(0).updated
    later = START + timedelta(hours=3)
    for i in range(1, 1001):  # the sweep runs every 1,000 events
        detector.process_one(encode(event(f"acct_{i % 7}", later)), SourceRef("t", 0, i))
    changes = detector.take_changes(0)
    assert changes.removed == ["acct_old"]
    assert sorted(s.account_id for s in changes.updated) == [f"acct_{i}" for i in range(7)]


def test_restored_accounts_are_ordered_for_expiry() -> None:
    """A restored store is ordered by last activity, so the TTL sweep still stops at the first
    live account."""
    states = [AccountState(f"acct_{i}", None, START.timestamp() + (5 - i) * 3600) for i in range(5)]
    detector = Detector(Settings(account_ttl_seconds=7200), clock=lambda: FIXED_NOW)
    store = detector.restore_partition(3, states).accounts
    assert [s.account_id for s in store] == [f"acct_{i}" for i in (4, 3, 2, 1, 0)]
    assert store.expire(START.timestamp() + 5 * 3600) == 2


def _record(fields: list[tuple[str, bytes, bytes]]) -> bytes:
    out = struct.pack("<2sBH", b"DS", 1, len(fields))
    for name, tag, payload in fields:
        out += struct.pack("<Ic", zlib.crc32(name.encode()), tag) + payload
    return out


def test_unknown_slots_are_ignored_and_missing_ones_keep_their_defaults() -> None:
    """A record from a newer version (an extra slot) or an older one (a slot missing) is read."""
    raw = _record(
        [
            ("total_events", b"i", struct.pack("<q", 41)),
            ("a_slot_from_the_future", b"f", struct.pack("<d", 1.5)),
        ]
    )
    state = decode_account("acct", raw)
    assert state.total_events == 41
    assert state.alert_id is None and state.applied_offset == -1


def test_a_slot_that_changed_shape_is_rejected() -> None:
    """An array of another length (a signal was added since) makes the record unreadable."""
    raw = _record([("call_sums", b"d", struct.pack("<I", 2) + array("d", [1.0, 2.0]).tobytes())])
    with pytest.raises(SnapshotError):
        decode_account("acct", raw)


def test_memory_per_account_does_not_grow_with_its_events() -> None:
    """A flooding account costs no more memory than an ordinary one (bounded state)."""
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    flood = [
        encode(event("acct_flood", START + timedelta(seconds=i), prompt=f"task {i}: think step by step"))
        for i in range(5_000)
    ]
    run(detector, flood[:100])
    small = memory_bytes(detector.partition(0).accounts.get("acct_flood"))  # type: ignore[arg-type]
    run(detector, flood[100:], 100)
    large = memory_bytes(detector.partition(0).accounts.get("acct_flood"))  # type: ignore[arg-type]
    assert large <= small * 1.2
