"""The coordination stage's checkpoint: records round-trip, corruption is refused, and a stage
restored from its changelog carries on exactly as the one that wrote it."""

from __future__ import annotations

import contextlib
import math
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import Alert
from detector.pipeline.coordination import (
    KEY_WEIGHTS,
    Campaign,
    CoordinationStage,
    Fingerprint,
    Member,
)
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
from detector.pipeline.decide import AlertPolicy

POLICY = AlertPolicy(
    threshold=0.6, medium=0.7, high=0.8, critical=0.9, cooldown_seconds=6 * 3600, min_events=20
)
T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
NOW = datetime(2026, 11, 25, tzinfo=UTC)
PARTITIONS = 3

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
text = st.text(max_size=30)
keys = st.frozensets(st.tuples(st.sampled_from(sorted(KEY_WEIGHTS)), st.integers(0, 2**32 - 1)), max_size=8)
members = st.builds(
    Member,
    org_id=st.none() | text,
    suspicious_since=finite,
    last_seen=finite,
    specific=finite,
    requests=ints,
    tokens=ints,
    keys=keys,
    partition=st.none() | st.integers(0, 64),
    seq=st.integers(0, 2**62),
)
campaigns = st.builds(
    Campaign,
    campaign_id=text,
    anchor_account=text,
    org_id=st.none() | text,
    started=finite,
    alerted_size=st.integers(0, 10**6),
    alert_severity_rank=st.integers(0, 4),
    revision=st.integers(0, 10**6),
    alerted_at=st.just(-math.inf) | finite,
    evaluated_at=st.just(-math.inf) | finite,
    evaluated_size=st.integers(0, 10**6),
    median_specific=finite,
    alert_score=st.floats(0, 1),
    verdict=st.none() | st.sampled_from(["confirmed", "false_positive", "allowlisted"]),
    closed_at=st.none() | finite,
)


@given(member=members, campaign_id=st.none() | text)
def test_a_member_round_trips(member: Member, campaign_id: str | None) -> None:
    """Every member (and the campaign it names) comes back equal, in the partition it is read from."""
    assert decode_member(encode_member(member, campaign_id), member.partition) == (member, campaign_id)


@given(campaign=campaigns)
def test_a_campaign_round_trips_without_its_members(campaign: Campaign) -> None:
    """Every campaign field comes back, "never" (-inf) included; members come from member records."""
    campaign.members = {"a", "b"}
    again = decode_campaign(campaign.campaign_id, encode_campaign(campaign))
    assert again.members == set()
    again.members = campaign.members
    assert again == campaign


@given(member=members)
def test_the_encoding_is_deterministic(member: Member) -> None:
    """Equal state, equal bytes, whatever order the key set iterates in."""
    rebuilt = Member(**{name: getattr(member, name) for name in Member.__slots__})
    rebuilt.keys = frozenset(sorted(member.keys, reverse=True))
    assert encode_member(rebuilt, None) == encode_member(member, None)


@given(raw=st.binary(max_size=300))
def test_random_bytes_are_refused_or_read_whole(raw: bytes) -> None:
    """Garbage is a CoordinationSnapshotError (never another exception, never a partial state)."""
    for decode in (lambda: decode_member(raw, 0), lambda: decode_campaign("c", raw)):
        with contextlib.suppress(CoordinationSnapshotError):
            decode()


@settings(max_examples=200)
@given(member=members, campaign=campaigns, data=st.data())
def test_corrupted_records_are_refused(member: Member, campaign: Campaign, data: st.DataObject) -> None:
    """A truncated record, or one with a byte changed, is refused or decodes to a whole state
    (a flipped digit is still a number); it never raises anything else."""
    for raw, decode in (
        (encode_member(member, "c"), lambda b: decode_member(b, 0)),
        (encode_campaign(campaign), lambda b: decode_campaign("c", b)),
    ):
        cut = data.draw(st.integers(0, len(raw) - 1))
        with pytest.raises(CoordinationSnapshotError):
            decode(raw[:cut])
        at = data.draw(st.integers(0, len(raw) - 1))
        flipped = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        with contextlib.suppress(CoordinationSnapshotError):
            decode(flipped)


def test_other_versions_fields_and_keys_are_refused() -> None:
    """A future format version, a missing field, a mistyped field or a key kind the stage does
    not know is refused; keys say which kind of record they are."""
    good = encode_member(Member(None, 1.0, 2.0, 3.0, 4, 5, frozenset({("network", 9)}), 0, 1), None)
    with pytest.raises(CoordinationSnapshotError, match="version"):
        decode_member(good[:2] + b"\x02" + good[3:], 0)
    for bad in (
        b'{"seq": 1}',
        good[3:].replace(b'"requests":4', b'"requests":"4"'),
        good[3:].replace(b"network", b"password"),
    ):
        with pytest.raises(CoordinationSnapshotError):
            decode_member(good[:3] + bad, 0)
    assert decode_key(member_key("acct_1")) == ("member", "acct_1")
    assert decode_key(campaign_key("abc")) == ("campaign", "abc")
    for key in (None, b"account:x", b"member:\xff"):
        with pytest.raises(CoordinationSnapshotError):
            decode_key(key)


def test_a_newer_record_with_extra_fields_is_still_read() -> None:
    """Fields this version does not know (a later version's) are ignored."""
    raw = encode_campaign(Campaign("c", "a", None, 1.0))
    extended = raw[:-1] + b',"status":"closed"}'
    assert decode_campaign("c", extended).anchor_account == "a"


# --- the stage, checkpointed and restored --------------------------------------------------------
def hydra_fingerprints() -> list[tuple[Fingerprint, int]]:
    """Two hydras that later merge through shared templates, a bystander sharing a network,
    and members reporting again; each fingerprint with the input partition it came from."""
    out: list[tuple[Fingerprint, int]] = []
    at = T0
    keys: tuple[tuple[str, int], ...]
    for step in range(160):
        at += 45
        if step < 60:
            index, keys = step % 14, (("system_prompt", 1), ("network", 100 + step % 14 % 3))
            account = f"h1_{index:02d}"
        elif step < 110:
            index = step % 12
            account, keys = (
                f"h2_{index:02d}",
                (("template", 2), ("template", 3), ("network", 200 + index % 2)),
            )
        else:
            index = step % 20
            account = f"h1_{index:02d}" if step % 2 else f"h2_{index % 12:02d}"
            keys = (("system_prompt", 1), ("template", 2), ("template", 3))
        if step % 17 == 0:
            account, keys = "bystander", (("network", 100),)
        specific = 2.5 + (zlib.crc32(account.encode()) % 30) / 10
        fingerprint = Fingerprint(account, None, at, at - 30, specific, 10 + step, 9_000, keys)
        out.append((fingerprint, zlib.crc32(account.encode()) % PARTITIONS))
    return out


class CompactedLog:
    """What a compacted changelog topic keeps: the last value per (partition, key)."""

    def __init__(self) -> None:
        self.records: dict[tuple[int | None, bytes], bytes] = {}
        self.writes = 0

    def checkpoint(self, stage: CoordinationStage) -> int:
        changes = stage.take_changes()
        written = 0
        for account, member, campaign_id in changes.members:
            self.records[(member.partition, member_key(account))] = encode_member(member, campaign_id)
            written += 1
        for campaign, partitions in changes.campaigns:
            for partition in partitions:
                self.records[(partition, campaign_key(campaign.campaign_id))] = encode_campaign(campaign)
                written += 1
        for partition, account in changes.removed_members:
            self.records.pop((partition, member_key(account)), None)
            written += 1
        for partition, campaign_id in changes.removed_campaigns:
            self.records.pop((partition, campaign_key(campaign_id)), None)
            written += 1
        self.writes += written
        return written

    def restore_into(self, stage: CoordinationStage, partitions: set[int | None]) -> None:
        restored_members: dict[str, tuple[Member, str | None]] = {}
        restored_campaigns: dict[str, tuple[Campaign, set[int | None]]] = {}
        for (partition, key), value in sorted(self.records.items(), key=lambda item: str(item[0])):
            if partition not in partitions:
                continue
            kind, ident = decode_key(key)
            if kind == "member":
                restored_members[ident] = decode_member(value, partition)
            else:
                campaign = decode_campaign(ident, value)
                found = restored_campaigns.setdefault(ident, (campaign, set()))[1]
                found.add(partition)
        stage.restore(restored_members, restored_campaigns)


def tracked_stage(ttl: float = 86_400) -> CoordinationStage:
    stage = CoordinationStage(POLICY, ttl_seconds=ttl, detector_version="test")
    stage.track_changes = True
    return stage


def alert_view(alerts: list[Alert]) -> list[tuple[str, int, str, tuple[str, ...], float]]:
    return [(a.alert_id, a.revision, a.account_id, tuple(a.related_accounts), a.score) for a in alerts]


def run(
    stage: CoordinationStage, stream: list[tuple[Fingerprint, int]], log: CompactedLog | None, batch: int = 7
) -> list[Alert]:
    alerts: list[Alert] = []
    for start in range(0, len(stream), batch):
        for fingerprint, partition in stream[start : start + batch]:
            alerts += stage.observe_one(fingerprint, NOW, partition)
        if log is not None:
            log.checkpoint(stage)
    return alerts


@pytest.mark.parametrize("ttl", [86_400.0, 1_500.0])
@pytest.mark.parametrize("cut", [20, 61, 95, 130])
def test_a_restored_stage_carries_on_as_if_never_stopped(cut: int, ttl: float) -> None:
    """Checkpoint every batch, "crash" after ``cut`` fingerprints, restore a fresh stage from the
    compacted changelog: the alerts that follow are exactly those of the uninterrupted stage —
    same alert_id, the next revisions, the same members named — with and without expiry."""
    stream = hydra_fingerprints()
    uninterrupted = run(tracked_stage(ttl), stream, CompactedLog())
    assert len({a.alert_id for a in uninterrupted}) >= 1 and len(uninterrupted) >= 4

    log = CompactedLog()
    before = run(first := tracked_stage(ttl), stream[:cut], log)
    del first
    second = tracked_stage(ttl)
    log.restore_into(second, set(range(PARTITIONS)))
    after = run(second, stream[cut:], log)
    assert alert_view(before + after) == alert_view(uninterrupted)


def test_expired_members_and_campaigns_are_tombstoned() -> None:
    """Once every member has expired, the log holds only the closed campaigns' records (no
    members); once their retention (TTL + cooldown) ends too, it holds nothing of the stage."""
    stream = hydra_fingerprints()
    stage, log = tracked_stage(ttl=600), CompactedLog()
    alerts = run(stage, stream, log)
    assert any(key.startswith(b"campaign:") for _, key in log.records)
    late_at = stream[-1][0].at + 10_000
    late = Fingerprint("late", None, late_at, 0.0, 3.0, 1, 1, (("network", 1),))
    alerts += stage.observe_one(late, NOW, 0)
    log.checkpoint(stage)
    closed = {campaign_key(a.alert_id) for a in alerts if a.status == "closed"}
    assert closed and {key for _, key in log.records} == closed | {member_key("late")}
    assert all(decode_campaign("c", v).closed_at for (_, k), v in log.records.items() if k in closed)
    later = Fingerprint("later", None, late_at + 600 + 6 * 3600, 0.0, 3.0, 1, 1, (("network", 1),))
    assert stage.observe_one(later, NOW, 0) == []
    log.checkpoint(stage)
    assert [key for _, key in log.records] == [member_key("later")]
    assert not stage.campaigns and not stage.closed and set(stage.by_key) == {("network", 1)}


def test_a_checkpoint_writes_only_what_changed() -> None:
    """After a batch, only the members it observed (and the campaigns they touched, once per
    partition) are written: the write is bounded by the batch, not by the state."""
    stream = hydra_fingerprints()
    stage, log = tracked_stage(), CompactedLog()
    run(stage, stream[:100], log)
    assert len(stage.members) > 20
    stage.observe_one(stream[100][0], NOW, stream[100][1])
    assert log.checkpoint(stage) <= 1 + PARTITIONS
    assert log.checkpoint(stage) == 0


def test_untracked_stage_notes_nothing() -> None:
    """Without a changelog (replay, demo) the stage keeps no change log that could grow."""
    stage = CoordinationStage(POLICY, ttl_seconds=600, detector_version="test")
    run(stage, hydra_fingerprints(), None)
    changes = stage.take_changes()
    assert changes == ([], [], [], [])


def test_revoked_partitions_leave_and_come_back() -> None:
    """Dropping a revoked partition forgets its members (nothing tombstoned: the records are the
    new owner's); restoring it brings them back into their campaigns, as before."""
    stream = hydra_fingerprints()
    stage, log = tracked_stage(), CompactedLog()
    run(stage, stream, log)
    members_before = set(stage.members)
    campaigns_before = {cid: set(c.members) for cid, c in stage.campaigns.items()}
    records_before = dict(log.records)
    gone = stage.drop_partitions({1})
    assert gone > 0 and all(m.partition != 1 for m in stage.members.values())
    assert all(stage.members[a].partition != 1 for c in stage.campaigns.values() for a in c.members)
    log.checkpoint(stage)
    assert {k for k in log.records if k[0] == 1} == {k for k in records_before if k[0] == 1}
    log.restore_into(stage, {1})
    assert set(stage.members) == members_before
    assert {cid: set(c.members) for cid, c in stage.campaigns.items()} == campaigns_before


def test_a_half_written_checkpoint_is_mended_on_restore() -> None:
    """A crash mid-checkpoint can leave a member naming a campaign whose record never arrived:
    the member is restored unattached and rewritten, so the log is consistent again."""
    stream = hydra_fingerprints()
    stage, log = tracked_stage(), CompactedLog()
    run(stage, stream[:60], log)
    campaign_id = next(iter(stage.campaigns))
    for partition in range(PARTITIONS):
        log.records.pop((partition, campaign_key(campaign_id)), None)
    restored = tracked_stage()
    log.restore_into(restored, set(range(PARTITIONS)))
    assert campaign_id not in restored.campaigns and not restored.campaign_of
    log.checkpoint(restored)
    assert all(
        decode_member(v, p)[1] is None for (p, k), v in log.records.items() if k.startswith(b"member:")
    )


def test_an_account_whose_keys_change_is_not_linked_by_its_old_ones() -> None:
    """The index lists an account under the keys it shows now only, so it is also gone from the
    index when it expires (the index is rebuilt from members on restore)."""
    stage = CoordinationStage(POLICY, ttl_seconds=600, detector_version="test")
    stage.observe_one(Fingerprint("a", None, T0, T0, 3.0, 1, 1, (("template", 1),)), NOW)
    stage.observe_one(Fingerprint("a", None, T0 + 1, T0, 3.0, 1, 1, (("template", 2),)), NOW)
    assert set(stage.by_key) == {("template", 2)}
    stage.observe_one(Fingerprint("b", None, T0 + 5_000, T0, 3.0, 1, 1, (("network", 3),)), NOW)
    assert set(stage.by_key) == {("network", 3)}


def quiet_then_back() -> list[tuple[Fingerprint, int]]:
    """The hydras, then seven hours in which only a bystander reports (they close), then the
    first hydra's accounts back with their old onsets, then more quiet hours (it closes too)."""
    stream = hydra_fingerprints()
    end = stream[-1][0].at
    onset: dict[str, float] = {}
    for sent, _ in stream:
        onset.setdefault(sent.account_id, sent.suspicious_since)
    for hour in range(1, 8):
        stream.append(
            (Fingerprint("bystander", None, end + hour * 3600, end, 3.0, 1, 1, (("network", 9),)), 0)
        )
    back = end + 8 * 3600
    for step in range(30):
        account = f"h1_{step % 14:02d}"
        keys = (("system_prompt", 1), ("network", 100 + step % 3))
        at = back + 45 * step
        sent = Fingerprint(account, None, at, onset[account], 4.0, 10, 9_000, keys)
        stream.append((sent, zlib.crc32(account.encode()) % PARTITIONS))
    for hour in range(1, 8):
        stream.append(
            (Fingerprint("bystander", None, back + 3000 + hour * 3600, end, 3.0, 1, 1, (("network", 9),)), 0)
        )
    return stream


@pytest.mark.parametrize("cut", [150, 165, 166, 171, 190, 202, 203])
def test_a_closing_survives_a_restore_and_is_sent_once(cut: int) -> None:
    """The younger hydra, absorbed by the older, closes as superseded; campaigns that go quiet
    close, and members that come back found a new campaign: cut
    anywhere (before, at and after the closings) and restored from the changelog, the stage sends
    exactly the uninterrupted stage's alerts — each closing once, no closed alert_id reopened."""
    stream = quiet_then_back()
    uninterrupted = run(tracked_stage(), stream, CompactedLog(), batch=1)
    closings = [a for a in uninterrupted if a.status == "closed"]
    assert [a.status_reason for a in closings] == ["superseded", "subsided", "subsided"]
    assert len({a.alert_id for a in closings}) == len(closings)
    for closing in closings:
        assert not [
            a for a in uninterrupted if a.alert_id == closing.alert_id and a.revision > closing.revision
        ]

    log = CompactedLog()
    before = run(first := tracked_stage(), stream[:cut], log, batch=1)
    del first
    second = tracked_stage()
    log.restore_into(second, set(range(PARTITIONS)))
    after = run(second, stream[cut:], log, batch=1)
    both = before + after
    assert alert_view(both) == alert_view(uninterrupted)
    assert [(a.status, a.status_reason) for a in both] == [(a.status, a.status_reason) for a in uninterrupted]


def test_a_member_of_a_closed_campaign_whose_tombstone_was_lost_is_dropped() -> None:
    """A crash mid-checkpoint can leave a member record naming a campaign whose closed record
    did arrive: the restore leaves it out (it left the stage at the closing) and tombstones it."""
    stream = quiet_then_back()[:167]  # up to just after the first closing
    stage, log = tracked_stage(), CompactedLog()
    run(stage, stream[:160], log, batch=1)
    stale = dict(log.records)
    run(stage, stream[160:], log, batch=1)
    closed_ids = set(stage.closed)
    assert closed_ids
    lost: set[str] = set()
    for (partition, key), value in stale.items():
        if key.startswith(b"member:") and decode_member(value, partition)[1] in closed_ids:
            log.records[(partition, key)] = value  # its tombstone never arrived
            lost.add(decode_key(key)[1])
    assert lost
    restored = tracked_stage()
    log.restore_into(restored, set(range(PARTITIONS)))
    assert set(restored.closed) == closed_ids and not restored.campaigns
    assert not lost & set(restored.members)
    assert all(lost.isdisjoint(holders) for holders in restored.by_key.values())
    log.checkpoint(restored)
    assert not {decode_key(k)[1] for _, k in log.records if k.startswith(b"member:")} & lost
