"""Account state to changelog bytes and back; checkpoint and restore are invisible to detection."""

from __future__ import annotations

import struct
import zlib
from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detector.events import Alert, ApiCallEvent
from detector.pipeline.features import CALL_SIGNALS, TEXT_SHARES, event_signals
from detector.pipeline.snapshot import (
    FORMAT_VERSION,
    SnapshotError,
    decode_account,
    encode_account,
    memory_bytes,
)
from detector.pipeline.state import COUNTER_FIELDS, AccountState
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


def _record(fields: list[tuple[str, bytes, bytes]], version: int = FORMAT_VERSION) -> bytes:
    out = struct.pack("<2sBH", b"DS", version, len(fields))
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
    raw = _record([("reals", b"d", struct.pack("<I", 2) + array("d", [1.0, 2.0]).tobytes())])
    with pytest.raises(SnapshotError):
        decode_account("acct", raw)


def _array(values: array[Any]) -> tuple[bytes, bytes]:
    return values.typecode.encode(), struct.pack("<I", len(values)) + values.tobytes()


def test_records_of_another_version_or_with_unusable_arrays_are_rejected() -> None:
    """An unknown format version, a ring position off the ring, or template keys without their
    counts would be misread or crash the update: the account restarts instead."""
    good = encode_account(AccountState("acct", None, START.timestamp()))
    assert decode_account("acct", good).first_seen == START.timestamp()
    with pytest.raises(SnapshotError):
        decode_account("acct", good[:2] + bytes([FORMAT_VERSION + 1]) + good[3:])
    counters = AccountState("acct", None, 0.0).counters
    counters[COUNTER_FIELDS.index("recent_pos")] = 8
    with pytest.raises(SnapshotError):
        decode_account("acct", _record([("counters", *_array(counters))]))
    uneven = [("template_keys", *_array(array("I", [1, 2]))), ("template_counts", *_array(array("q", [1])))]
    with pytest.raises(SnapshotError):
        decode_account("acct", _record(uneven))


def _v1_value(value: Any) -> tuple[bytes, bytes]:
    """A slot value as format version 1 wrote it."""
    if value is None:
        return b"n", b""
    if isinstance(value, str):
        return b"s", struct.pack("<I", len(value)) + value.encode()
    if isinstance(value, int):
        return b"i", struct.pack("<q", value)
    if isinstance(value, float):
        return b"f", struct.pack("<d", value)
    if isinstance(value, array):
        return _array(value)
    if isinstance(value, dict):
        return b"m", struct.pack(f"<I{2 * len(value)}q", len(value), *(x for kv in value.items() for x in kv))
    return b"t", struct.pack(f"<I{len(value)}q", len(value), *value)


def _as_v1(state: AccountState, half_life: float) -> bytes:
    """The record version 1 (one slot per number, sums decayed to last_seen) had for ``state``."""
    requests, tokens = COUNTER_FIELDS.index("bucket_requests_0"), COUNTER_FIELDS.index("bucket_tokens_0")
    decayed = (
        "weight",
        "token_weight",
        "output_weight",
        "text_weight",
        "gap_sum",
        "gap_sq_sum",
        "gap_weight",
    )
    plain = [
        "org_id",
        "alert_id",
        "last_seen",
        "last_scored_at",
        "total_events",
        "events_since_score",
        "first_seen",
        "population_learned_at",
        "suspicious_since",
        "own_harvest_baseline",
        "own_shape_baseline",
        "baseline_mean",
        "baseline_var",
        "last_alert_at",
        "baseline_count",
        "alert_bucket",
        "alert_severity_rank",
        "alert_revision",
        "applied_offset",
    ]
    values: dict[str, Any] = {name: getattr(state, name) for name in plain}
    values |= {name: state.decayed(name, half_life) for name in decayed}
    values["call_sums"] = array("d", [state.decayed(name, half_life) for name in CALL_SIGNALS])
    values["text_sums"] = array("d", [state.decayed(name, half_life) for name in TEXT_SHARES])
    values["bucket_head"] = state.counters[COUNTER_FIELDS.index("bucket_head")]
    values["bucket_requests"] = state.counters[requests : requests + 12]
    values["bucket_tokens"] = state.counters[tokens : tokens + 12]
    values["recent_prompts"] = array("q", state.hashes[:8])
    values["recent_pos"] = state.counters[COUNTER_FIELDS.index("recent_pos")]
    values["templates"] = dict(zip(state.template_keys, state.template_counts, strict=True))
    values["infrastructure"] = state.infrastructure[:3]  # version 1 kept no request profile
    return _record([(name, *_v1_value(value)) for name, value in values.items()], version=1)


def test_a_version_1_record_is_migrated_and_detection_goes_on_unchanged() -> None:
    """A record written before the packed layout reads as the same account, and the migrated
    account then evolves exactly as one that was never written out."""
    half_life, bucket = 3600.0, 1800.0
    stream = [
        event_signals(ApiCallEvent.model_validate(e))
        for e in by_time(bulk_distillation_stream("acct_x", 2, 3), benign_stream(40, 2))
    ]
    state = AccountState("acct_x", "org_1", START.timestamp())
    for i, signals in enumerate(stream[:300]):
        state.update_one(signals, START.timestamp() + i * 7.0, half_life, bucket)
    state.alert_revision, state.applied_offset, state.suspicious_since = 2, 12_345, START.timestamp()
    migrated = decode_account("acct_x", _as_v1(state, half_life))
    for i, signals in enumerate(stream[300:], 300):
        for account in (state, migrated):
            account.update_one(signals, START.timestamp() + i * 7.0, half_life, bucket)
        if i % 50 == 0 or i == len(stream) - 1:
            # abs: the variance of perfectly regular gaps is ~0, and its square root turns
            # last-bit differences of the two sums into ~1e-8
            assert migrated.features(half_life) == pytest.approx(
                state.features(half_life), rel=1e-9, abs=1e-6
            )
            assert migrated.window_totals(bucket) == state.window_totals(bucket)
            assert migrated.top_templates() == state.top_templates()
    # (the request profile, which version 1 lacked, is back with the next call)
    assert (migrated.infrastructure, migrated.total_events) == (state.infrastructure, state.total_events)
    assert (migrated.alert_revision, migrated.applied_offset) == (2, 12_345)
    assert migrated.suspicious_since == START.timestamp()


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
