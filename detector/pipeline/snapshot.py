"""AccountState ⇄ bytes for the state changelog: a small tagged binary format, never pickle.

A changelog record is ``key = account_id`` (UTF-8) and ``value = encode_account(state)``; a
tombstone (``value = None``) says the account was forgotten. Pure: no Kafka, no I/O.

The format is self-describing per slot so that the detector can be upgraded while its changelog
is kept: every slot of ``AccountState`` is written as (32-bit id of the slot name, type tag,
payload). On decode, slots the running code does not know are ignored, slots the record lacks
keep ``AccountState.__init__``'s defaults, and a slot whose shape changed (an array of a different
length after a signal was added, a different type) makes the record ``SnapshotError`` — the
account then restarts from its next event rather than being misread. A state whose arrays would
break ``AccountState.update_one`` (an out-of-range ring position, say) is rejected the same way.

Version 2 records hold the packed layout of ``AccountState`` (lazily decayed sums in ``reals``,
counters, hashes). Version 1 records, written before that layout, held one slot per number with
sums decayed to ``last_seen``; they are migrated on decode (their sums become scaled sums whose
reference time is ``last_seen``), so an upgrade does not make every account start over.

Pickle is not used because the changelog is a topic: anyone who can write to it could make a
worker execute code on restore. Decoding here only ever builds numbers, strings and arrays, and
rejects malformed input with ``SnapshotError`` (a hypothesis test feeds it random bytes).

Nothing in ``AccountState`` is prompt text (content arrives as hashes), so neither is anything
here; the canary test checks it end to end.

>>> state = AccountState("acct_1", "org_1", 1_700_000_000.0)
>>> state.total_events = 3
>>> again = decode_account("acct_1", encode_account(state))
>>> (again.account_id, again.org_id, again.total_events, again.first_seen)
('acct_1', 'org_1', 3, 1700000000.0)
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from array import array
from typing import Any

from detector.pipeline.features import N_CALL, N_TEXT
from detector.pipeline.feedback import AccountFeedback
from detector.pipeline.state import (
    COUNTER_FIELDS,
    REAL_FIELDS,
    RECENT_PROMPTS,
    TEMPLATE_SLOTS,
    WINDOW_BUCKETS,
    AccountState,
)

MAGIC = b"DS"
FORMAT_VERSION = 2
_V1 = 1  # one slot per number, sums decayed to last_seen: migrated on decode
# account_id travels as the record key, so it is not repeated in the value.
_SKIPPED_SLOTS = frozenset({"account_id"})

_HEADER = struct.Struct("<2sBH")  # magic, format version, slot count
_SLOT = struct.Struct("<Ic")  # crc32 of the slot name, type tag
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")
_I64 = struct.Struct("<q")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_MAX_ITEMS = 1 << 16  # no slot holds more than this many items; bounds a hostile length field
_U32_MAX = 2**32 - 1
_ARRAY_WIDTHS = {"d": 8, "q": 8, "I": 4, "f": 4}
# An array's tag is its typecode, except float32 ("f" is the tag of a float scalar).
_ARRAY_TAGS = {"f": b"g"}
_TAG_TYPECODES = {"g": "f"}


class SnapshotError(ValueError):
    """A changelog value that is not a readable AccountState for this version of the detector."""


def _slot_id(name: str) -> int:
    return zlib.crc32(name.encode())


_SLOTS: tuple[str, ...] = tuple(s for s in AccountState.__slots__ if s not in _SKIPPED_SLOTS)
_BY_ID: dict[int, str] = {_slot_id(name): name for name in _SLOTS}
if len(_BY_ID) != len(_SLOTS):  # pragma: no cover - would need two slot names with equal crc32
    raise RuntimeError("two AccountState slot names share a crc32; rename one")


def _int(value: int) -> bytes:
    if not _I64_MIN <= value <= _I64_MAX:
        raise SnapshotError("integer outside 64 bits")
    return _I64.pack(value)


def _encode_value(value: Any) -> tuple[bytes, bytes]:
    """(type tag, payload) of one slot value."""
    if value is None:
        return b"n", b""
    if isinstance(value, bool):
        return b"b", b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return b"i", _int(value)
    if isinstance(value, float):
        return b"f", _F64.pack(value)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return b"s", _U32.pack(len(raw)) + raw
    if isinstance(value, array) and value.typecode in _ARRAY_WIDTHS:
        tag = _ARRAY_TAGS.get(value.typecode) or value.typecode.encode()
        return tag, _U32.pack(len(value)) + value.tobytes()
    if isinstance(value, dict):
        items = b"".join(_int(k) + _int(v) for k, v in value.items())
        return b"m", _U32.pack(len(value)) + items
    if isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return b"t", _U32.pack(len(value)) + b"".join(_int(v) for v in value)
    if isinstance(value, AccountFeedback):
        # Rare (accounts that alerted or were told about) and small: JSON of plain values, read
        # back with type checks (AccountFeedback.from_dict), never as objects.
        raw = json.dumps(value.to_dict(), separators=(",", ":")).encode()
        return b"F", _U32.pack(len(raw)) + raw
    raise SnapshotError(f"cannot encode a slot of type {type(value).__name__}")


def encode_account(state: AccountState) -> bytes:
    """The changelog value of one account (little-endian, a few hundred bytes)."""
    parts = [_HEADER.pack(MAGIC, FORMAT_VERSION, len(_SLOTS))]
    for name in _SLOTS:
        tag, payload = _encode_value(getattr(state, name))
        parts.append(_SLOT.pack(_slot_id(name), tag))
        parts.append(payload)
    return b"".join(parts)


# What the running code expects of each slot: (name, default value) by slot id.
_DEFAULTS = AccountState("", None, 0.0)
_EXPECTED: dict[int, tuple[str, Any]] = {_slot_id(n): (n, getattr(_DEFAULTS, n)) for n in _SLOTS}


def _fits(default: Any, value: Any) -> Any:
    """``value`` if it has the shape the running code expects for this slot, else SnapshotError."""
    if value is None or default is None:
        return value  # optional slots (alert_id, org_id) are None or a value
    if type(value) is type(default):
        # An array that starts empty grows to a bound that AccountState.is_consistent checks.
        if isinstance(default, array) and (
            default.typecode != value.typecode or (len(default) and len(default) != len(value))
        ):
            raise SnapshotError("array slot changed shape")
        if isinstance(default, tuple) and len(default) != len(value):
            raise SnapshotError("tuple slot changed shape")
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise SnapshotError("slot type changed")


def _count(data: bytes, pos: int, width: int) -> tuple[int, int]:
    """(item count, position after the items) of a length-prefixed payload at ``pos``."""
    (n,) = _U32.unpack_from(data, pos)
    if n > _MAX_ITEMS:
        raise SnapshotError("length field out of range")
    after = pos + 4 + n * width
    if after > len(data):
        raise SnapshotError("record is truncated")
    return n, after


def _decode_value(tag: bytes, data: bytes, pos: int) -> tuple[Any, int]:
    """(value, position after it) of the payload at ``pos``."""
    if tag == b"f":
        return _F64.unpack_from(data, pos)[0], pos + 8
    if tag == b"i":
        return _I64.unpack_from(data, pos)[0], pos + 8
    if tag == b"n":
        return None, pos
    typecode = tag.decode("latin-1")
    typecode = _TAG_TYPECODES.get(typecode, typecode)
    if typecode in _ARRAY_WIDTHS:  # (tag "f", a float scalar, was read above)
        _, after = _count(data, pos, _ARRAY_WIDTHS[typecode])
        values = array(typecode)
        values.frombytes(data[pos + 4 : after])
        if sys.byteorder != "little":  # pragma: no cover - the format is little-endian
            values.byteswap()
        return values, after
    if tag == b"s":
        _, after = _count(data, pos, 1)
        try:
            return data[pos + 4 : after].decode("utf-8", "surrogatepass"), after
        except UnicodeDecodeError as exc:
            raise SnapshotError("string is not UTF-8") from exc
    if tag == b"m":
        n, after = _count(data, pos, 16)
        flat = struct.unpack_from(f"<{2 * n}q", data, pos + 4)
        return dict(zip(flat[0::2], flat[1::2], strict=True)), after
    if tag == b"t":
        n, after = _count(data, pos, 8)
        return struct.unpack_from(f"<{n}q", data, pos + 4), after
    if tag == b"F":
        _, after = _count(data, pos, 1)
        try:
            document = json.loads(data[pos + 4 : after])
            if not isinstance(document, dict):
                raise SnapshotError("feedback slot is not an object")
            return AccountFeedback.from_dict(document), after
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and from_dict's type checks
            raise SnapshotError("feedback slot unreadable") from exc
    if tag == b"b":
        flag = data[pos : pos + 1]
        if flag not in (b"\x00", b"\x01"):
            raise SnapshotError("bad boolean")
        return flag == b"\x01", pos + 1
    raise SnapshotError("unknown type tag")


def _read_slots(data: bytes) -> tuple[int, dict[int, Any]]:
    """(format version, slot values by slot id) of a record, checking only its framing."""
    try:
        magic, version, count = _HEADER.unpack_from(data, 0)
        if magic != MAGIC or version not in (_V1, FORMAT_VERSION):
            raise SnapshotError("not an account-state record of a known format")
        pos = _HEADER.size
        values: dict[int, Any] = {}
        for _ in range(count):
            slot_id, tag = _SLOT.unpack_from(data, pos)
            value, pos = _decode_value(tag, data, pos + _SLOT.size)
            if slot_id in values:
                raise SnapshotError("slot repeated")
            values[slot_id] = value
    except struct.error as exc:
        raise SnapshotError("record is truncated") from exc
    if pos != len(data):
        raise SnapshotError("trailing bytes after the last slot")
    return version, values


def decode_account(account_id: str, data: bytes) -> AccountState:
    """Rebuild an account from its changelog value; ``SnapshotError`` if it cannot be trusted."""
    version, values = _read_slots(bytes(data))
    if version == _V1:
        state = _from_v1(account_id, values)
    else:
        # Slots this version does not know are skipped; slots the record lacks (an older
        # version's) keep the defaults of a fresh account.
        state = AccountState(account_id, None, 0.0)
        for slot_id, value in values.items():
            expected = _EXPECTED.get(slot_id)
            if expected is not None:
                name, default = expected
                setattr(state, name, _fits(default, value))
    if not state.is_consistent():
        raise SnapshotError("account state arrays out of shape or range")
    return state


# Version 1: the slots AccountState had then, with their defaults (by slot id).
_V1_ARRAYS: dict[str, array[Any]] = {
    "call_sums": array("d", [0.0]) * N_CALL,
    "text_sums": array("d", [0.0]) * N_TEXT,
    "bucket_requests": array("q", [0]) * WINDOW_BUCKETS,
    "bucket_tokens": array("q", [0]) * WINDOW_BUCKETS,
    "recent_prompts": array("q", [0]) * RECENT_PROMPTS,
}
_V1_SCALARS: dict[str, Any] = {
    **{name: getattr(_DEFAULTS, name) for name in ("org_id", "alert_id", "last_seen", "last_scored_at")},
    "total_events": 0,
    "events_since_score": 0,
    **{name: _DEFAULTS.reals[REAL_FIELDS.index(name)] for name in REAL_FIELDS[N_CALL + N_TEXT :]},
    **{
        name: _DEFAULTS.counters[COUNTER_FIELDS.index(name)]
        for name in COUNTER_FIELDS[: COUNTER_FIELDS.index("bucket_requests_0")]
    },
    "infrastructure": (0, 0, 0),
    "templates": {},
}
del _V1_SCALARS["decay_ref"]  # new in version 2
_V1_EXPECTED: dict[int, tuple[str, Any]] = {
    _slot_id(name): (name, default) for name, default in (_V1_ARRAYS | _V1_SCALARS).items()
}


def _u32s(values: Any) -> list[int]:
    """Hashes from a version 1 record (64-bit slots that only ever held CRC-32 values)."""
    if not all(0 <= v <= _U32_MAX for v in values):
        raise SnapshotError("hash outside 32 bits")
    return list(values)


def _from_v1(account_id: str, values: dict[int, Any]) -> AccountState:
    """A version 1 record in the version 2 layout. Its sums were decayed to ``last_seen``: as
    scaled sums with reference time ``last_seen`` they read out the same."""
    old: dict[str, Any] = dict(_V1_EXPECTED.values())
    for slot_id, value in values.items():
        expected = _V1_EXPECTED.get(slot_id)
        if expected is not None:
            name, default = expected
            old[name] = _fits(default, value)
    state = AccountState(account_id, old["org_id"], 0.0)
    for name in ("alert_id", "last_seen", "last_scored_at", "total_events", "events_since_score"):
        setattr(state, name, old[name])
    reals = state.reals
    reals[:N_CALL] = old["call_sums"]
    reals[N_CALL : N_CALL + N_TEXT] = old["text_sums"]
    for index, name in enumerate(REAL_FIELDS):
        if name in old:
            reals[index] = old[name]
    reals[REAL_FIELDS.index("decay_ref")] = old["last_seen"]
    counters = state.counters
    for index, name in enumerate(COUNTER_FIELDS):
        if name in old:
            counters[index] = old[name]
    requests = COUNTER_FIELDS.index("bucket_requests_0")
    counters[requests : requests + WINDOW_BUCKETS] = old["bucket_requests"]
    tokens = COUNTER_FIELDS.index("bucket_tokens_0")
    counters[tokens : tokens + WINDOW_BUCKETS] = old["bucket_tokens"]
    # (Version 1 kept no request profile: 0 until the account's next call.)
    state.hashes = array("I", [*_u32s(old["recent_prompts"]), *_u32s(old["infrastructure"]), 0])
    templates: dict[int, int] = old["templates"]
    if len(templates) > TEMPLATE_SLOTS:
        raise SnapshotError("too many templates")
    state.template_keys = array("I", _u32s(templates))
    state.template_counts = array("q", templates.values())
    return state


def memory_bytes(state: AccountState) -> int:
    """Bytes the account holds in this process (object, its arrays, dict, strings): measured, not
    estimated from the encoding, so /metrics shows what an account really costs."""
    total = sys.getsizeof(state)
    for name in AccountState.__slots__:
        value = getattr(state, name, None)
        if value is None or isinstance(value, bool):
            continue
        total += sys.getsizeof(value)
        if isinstance(value, dict):
            total += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in value.items())
        elif isinstance(value, tuple):
            total += sum(sys.getsizeof(v) for v in value)
    return total
