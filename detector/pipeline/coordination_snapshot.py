"""The coordination stage's state ⇄ changelog records: members by account, campaigns by id.

Pure: no Kafka, no I/O. Two kinds of record share one compacted topic, told apart by the key:

* ``member:<account_id>`` → one suspicious account (its latest fingerprint's numbers and hashes,
  when it turned suspicious, its observation number, the campaign it belongs to);
* ``campaign:<campaign_id>`` → a campaign's alert episode: anchor, start, revision, what its last
  revision and evaluation were (size, severity, score, event time), its members' typical
  evidence, the analyst verdict on it, and when it closed (``closed_at``; null while open). A
  closed campaign's record has no members and stays until its retention ends, so a restored
  stage neither closes it again nor reuses its id.

A campaign's member set is not in its record: it is rebuilt from the member records, so a
campaign of 2,000 accounts that gains one costs two small records, not one of 2,000 names.

The value is ``MAGIC`` + a format version byte + a JSON object (orjson, keys sorted, so equal
states give equal bytes). Version 1 is the only one so far. To extend it, add a field with a
default in ``_decode_*`` (records written before keep working) and bump the version only when
a field changes meaning; unknown fields are ignored, so an older worker still reads a newer
record. Anything else — another magic or version, a missing or mistyped field, a key kind the
stage does not know, trailing garbage — is ``CoordinationSnapshotError``, never a half-read state
(a hypothesis test feeds it random and corrupted bytes). Not pickle: the changelog is a topic,
and whoever can write to it must not be able to run code in the worker. No prompt text: a member
holds hashes only, as its fingerprint does.

>>> from detector.pipeline.coordination import Member
>>> member = Member("org_1", 10.0, 20.0, 3.5, 12, 3400, frozenset({("template", 7)}), 0, 4)
>>> decode_member(encode_member(member, "c1"), partition=0) == (member, "c1")
True
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from detector.pipeline.coordination import CONSISTENCY, KEY_WEIGHTS, Campaign, Member

MAGIC = b"DC"
FORMAT_VERSION = 1
MEMBER_PREFIX = b"member:"
CAMPAIGN_PREFIX = b"campaign:"
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


class CoordinationSnapshotError(ValueError):
    """A changelog record that is not readable coordination state for this version."""


def member_key(account_id: str) -> bytes:
    return MEMBER_PREFIX + account_id.encode("utf-8", "surrogatepass")


def campaign_key(campaign_id: str) -> bytes:
    return CAMPAIGN_PREFIX + campaign_id.encode("utf-8", "surrogatepass")


def decode_key(key: bytes | None) -> tuple[str, str]:
    """(``"member"`` or ``"campaign"``, id) of a record key."""
    if key is None:
        raise CoordinationSnapshotError("record has no key")
    for kind, prefix in (("member", MEMBER_PREFIX), ("campaign", CAMPAIGN_PREFIX)):
        if key.startswith(prefix):
            try:
                return kind, key[len(prefix) :].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as error:
                raise CoordinationSnapshotError("key is not UTF-8") from error
    raise CoordinationSnapshotError("not a coordination record key")


def _dump(document: dict[str, Any]) -> bytes:
    return MAGIC + bytes([FORMAT_VERSION]) + orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _time(value: float) -> float | None:
    """Event time, with "never" (-inf, which JSON cannot hold) as null."""
    return None if value == -math.inf else value


def encode_member(member: Member, campaign_id: str | None) -> bytes:
    """The changelog value of one member; its partition is where the record is written."""
    return _dump(
        {
            "org_id": member.org_id,
            "suspicious_since": member.suspicious_since,
            "last_seen": member.last_seen,
            "specific": member.specific,
            "requests": member.requests,
            "tokens": member.tokens,
            "keys": sorted([kind, key] for kind, key in member.keys),
            "seq": member.seq,
            "campaign": campaign_id,
        }
    )


def encode_campaign(campaign: Campaign) -> bytes:
    """The changelog value of one campaign (without its members: they name it themselves)."""
    return _dump(
        {
            "anchor": campaign.anchor_account,
            "org_id": campaign.org_id,
            "started": campaign.started,
            "alerted_size": campaign.alerted_size,
            "alert_severity_rank": campaign.alert_severity_rank,
            "revision": campaign.revision,
            "alerted_at": _time(campaign.alerted_at),
            "evaluated_at": _time(campaign.evaluated_at),
            "evaluated_size": campaign.evaluated_size,
            "median_specific": campaign.median_specific,
            "join_floor": campaign.join_floor,
            "alert_score": campaign.alert_score,
            "verdict": campaign.verdict,
            "closed_at": campaign.closed_at,
        }
    )


def _load(raw: bytes) -> dict[str, Any]:
    data = bytes(raw)
    if data[:2] != MAGIC or len(data) < 3:
        raise CoordinationSnapshotError("not a coordination record")
    if data[2] != FORMAT_VERSION:
        raise CoordinationSnapshotError(f"unknown coordination record version {data[2]}")
    try:
        document = orjson.loads(data[3:])
    except orjson.JSONDecodeError as error:
        raise CoordinationSnapshotError("coordination record is not JSON") from error
    if not isinstance(document, dict):
        raise CoordinationSnapshotError("coordination record is not an object")
    return document


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    try:
        value = document[name]
    except KeyError:
        raise CoordinationSnapshotError(f"field {name} missing") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise CoordinationSnapshotError(f"field {name} is not {kind.__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CoordinationSnapshotError(f"field {name} is not finite")
    if isinstance(value, int) and not _I64_MIN <= value <= _I64_MAX:
        raise CoordinationSnapshotError(f"field {name} out of range")
    return value


def _optional(document: dict[str, Any], name: str, kind: type) -> Any:
    if document.get(name, 0) is None:
        return None
    return _field(document, name, kind)


def _defaulted(document: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    """An optional field added within version 1: records written before it have the default."""
    return _optional(document, name, kind) if name in document else default


def decode_member(raw: bytes, partition: int | None) -> tuple[Member, str | None]:
    """(member, its campaign id) from a changelog value read from ``partition``."""
    document = _load(raw)
    keys = _field(document, "keys", list)
    pairs: set[tuple[str, int]] = set()
    for pair in keys:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or pair[0] not in KEY_WEIGHTS
            or type(pair[1]) is not int
        ):
            raise CoordinationSnapshotError("bad fingerprint key")
        pairs.add((pair[0], pair[1]))
    member = Member(
        org_id=_optional(document, "org_id", str),
        suspicious_since=_field(document, "suspicious_since", float),
        last_seen=_field(document, "last_seen", float),
        specific=_field(document, "specific", float),
        requests=_field(document, "requests", int),
        tokens=_field(document, "tokens", int),
        keys=frozenset(pairs),
        partition=partition,
        seq=_field(document, "seq", int),
    )
    return member, _optional(document, "campaign", str)


def decode_campaign(campaign_id: str, raw: bytes) -> Campaign:
    """A campaign (with no members yet: the restore adds those that name it)."""
    document = _load(raw)
    alerted_at = _optional(document, "alerted_at", float)
    evaluated_at = _optional(document, "evaluated_at", float)
    return Campaign(
        campaign_id=campaign_id,
        anchor_account=_field(document, "anchor", str),
        org_id=_optional(document, "org_id", str),
        started=_field(document, "started", float),
        alerted_size=_field(document, "alerted_size", int),
        alert_severity_rank=_field(document, "alert_severity_rank", int),
        revision=_field(document, "revision", int),
        alerted_at=-math.inf if alerted_at is None else alerted_at,
        evaluated_at=-math.inf if evaluated_at is None else evaluated_at,
        evaluated_size=_field(document, "evaluated_size", int),
        median_specific=(median := _field(document, "median_specific", float)),
        # Records written before the spread rule: the half-median rule they were made with.
        join_floor=_defaulted(document, "join_floor", float, CONSISTENCY * median),
        alert_score=_field(document, "alert_score", float) if "alert_score" in document else 0.0,
        verdict=_defaulted(document, "verdict", str, None),
        closed_at=_defaulted(document, "closed_at", float, None),
    )
