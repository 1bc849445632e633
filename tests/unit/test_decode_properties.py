"""Hostile and odd input, by property (hypothesis) and by a fixed fuzz corpus: nothing crashes the
detector; every message is either a dead letter with a known reason or handled explicitly."""

from __future__ import annotations

import contextlib
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.events import ApiCallEvent, Rejected
from detector.pipeline.snapshot import SnapshotError, decode_account, encode_account
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector, SourceRef
from detector.pipeline.validate import Decoded, decode_event, validate_one
from detector.settings import Settings
from tests.factories import event

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz"
REASONS = {
    "not_json",
    "not_object",
    "missing_field",
    "invalid_field",
    "negative_tokens",
    "bad_timestamp",
    "unknown_schema_version",
    "oversized",
}
FIXED_NOW = datetime(2026, 11, 25, tzinfo=UTC)
LIMIT = Settings().max_message_bytes
CORPUS_LIMIT = 65_536
# One detector shared by the examples: "never raises" must hold whatever state it is in.
DETECTOR = Detector(Settings(), clock=lambda: FIXED_NOW)
_offsets = iter(range(10**9))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
EVENT_FIELDS = sorted(event())


def process(raw: bytes) -> Any:
    return DETECTOR.process_one(raw, SourceRef("api-calls", 0, next(_offsets), b"k"))


def check_outcome(raw: bytes) -> ApiCallEvent | Rejected:
    """The decoder's answer, which must be a valid event or a dead letter with a known reason,
    and the whole pipeline must take the message without raising. The worker's fast decoder
    must give the same verdict, reason and values as the contract."""
    decoded = validate_one(raw, max_message_bytes=LIMIT)
    if isinstance(decoded, Rejected):
        assert decoded.reason in REASONS
        assert decoded.raw == raw
    assert_same_verdict(raw, decoded)
    result = process(raw)
    assert bool(result.dead_letters) == isinstance(decoded, Rejected)
    return decoded


def assert_same_verdict(raw: bytes, contract: ApiCallEvent | Rejected, limit: int = LIMIT) -> None:
    fast = decode_event(raw, max_message_bytes=limit)
    if isinstance(contract, Rejected):
        assert fast == contract
        return
    assert isinstance(fast, Decoded)
    assert fast.at == contract.timestamp.timestamp()
    assert msgspec.structs.asdict(fast.event.params) == contract.params.model_dump()
    values = msgspec.structs.asdict(fast.event)
    del values["params"], values["timestamp"]
    assert values == contract.model_dump(exclude={"params", "timestamp"})


@given(st.binary(max_size=2_000))
def test_random_bytes_never_crash_the_decoder_or_the_pipeline(raw: bytes) -> None:
    """Arbitrary bytes are a valid event or a dead letter with a known reason; nothing raises."""
    check_outcome(raw)


@given(json_values)
def test_any_json_document_is_handled(value: Any) -> None:
    """Any JSON value at the top level is rejected with a reason (it is never a full event)."""
    decoded = check_outcome(orjson.dumps(value))
    assert isinstance(decoded, Rejected)


@settings(max_examples=300)
@given(st.sampled_from(EVENT_FIELDS), json_values)
def test_any_value_in_any_field_is_handled(field: str, value: Any) -> None:
    """A valid event with one field replaced by any JSON value (wrong types, nulls, huge or
    negative numbers, nested junk) is processed or dead-lettered, never a crash."""
    document = event("acct_prop")
    document[field] = value
    check_outcome(orjson.dumps(document))


@given(
    st.sampled_from(["latency_ms", "temperature", "top_p"]),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"]),
)
def test_non_finite_numbers_are_dead_letters(field: str, literal: bytes) -> None:
    """NaN and infinite numbers (as literals or by overflow) never reach the state."""
    document = event("acct_nan", params={"temperature": 0.5, "top_p": 0.5}, latency_ms=1.0)
    raw = orjson.dumps(document)
    raw = raw.replace(f'"{field}":1.0'.encode(), f'"{field}":'.encode() + literal)
    raw = raw.replace(f'"{field}":0.5'.encode(), f'"{field}":'.encode() + literal)
    decoded = check_outcome(raw)
    assert isinstance(decoded, Rejected)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_epoch_timestamps_are_in_range_or_bad(epoch_ms: int) -> None:
    """Epoch-millisecond timestamps inside 2000..2200 are accepted, all others are bad_timestamp."""
    decoded = check_outcome(orjson.dumps(event("acct_ts", timestamp=epoch_ms)))
    low = datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000
    high = datetime(2200, 1, 1, tzinfo=UTC).timestamp() * 1000
    if low <= epoch_ms < high:
        assert isinstance(decoded, ApiCallEvent)
    else:
        assert isinstance(decoded, Rejected) and decoded.reason == "bad_timestamp"


@given(st.text(min_size=1, max_size=300))
def test_unicode_account_ids_and_prompts_are_processed_and_checkpointed(text: str) -> None:
    """Any Unicode (emoji, RTL marks, NUL, combining marks) in ids and prompts is processed;
    ids longer than 128 characters are invalid; the state round-trips and holds no prompt text."""
    canary = "CANARY-" + text
    decoded = check_outcome(orjson.dumps(event(text, prompt=canary)))
    if len(text) > 128:
        assert isinstance(decoded, Rejected) and decoded.reason == "invalid_field"
        return
    assert isinstance(decoded, ApiCallEvent)
    state = DETECTOR.partition(0).accounts.get(text)
    assert state is not None
    encoded = encode_account(state)
    assert canary.encode() not in encoded
    assert decode_account(text, encoded).account_id == text


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=120))
def test_out_of_order_and_duplicated_events_count_once(seed: int, count: int) -> None:
    """Shuffled timestamps and redelivered copies (same event_id) never crash the pipeline, are
    flagged as duplicates, and each distinct event is counted exactly once in the state."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    distinct = [
        event("acct_order", start + timedelta(seconds=rng.uniform(-86_400 * 30, 86_400 * 30)))
        for _ in range(count)
    ]
    stream = distinct + [rng.choice(distinct) for _ in range(count // 2)]
    rng.shuffle(stream)
    detector = Detector(Settings(), clock=lambda: FIXED_NOW)
    duplicates = sum(detector.process_one(orjson.dumps(e)).duplicate for e in stream)
    assert duplicates == len(stream) - count
    state = detector.partition(None).accounts.get("acct_order")
    assert state is not None and state.total_events == count


INT_FIELDS = ["status", "prompt_tokens", "messages", "params.max_tokens", "params.seed", "params.n"]


@given(
    st.sampled_from(INT_FIELDS),
    st.integers(min_value=-(2**65), max_value=2**65) | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64]),
)
def test_integers_at_every_width_get_the_contracts_verdict(field: str, value: int) -> None:
    """Integers beyond 64 bits (floats to the contract's reader) and between 2**63 and 2**64
    (beyond the fast decoder's bound) are judged as the contract judges them."""
    document = event("acct_int")
    parent, _, name = field.rpartition(".")
    (document[parent] if parent else document)[name] = value
    check_outcome(json.dumps(document).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"schema_version":1,"event_id":"e","timestamp":1795515302481,"account_id":"a","endpoint":"x",'
        b'"model":"m","status":200,"prompt_tokens":1,"completion_tokens":2,"completion_tokens":-1}',
        b'{"schema_version":1,"event_id":"e","timestamp":1795515302481,"account_id":"a","endpoint":"x",'
        b'"model":"m","status":200,"prompt_tokens":1,"completion_t\\u006fkens":2}',
        b'{"schema_version":1,"event_id":"e","timestamp":1795515302481,"account_id":"a","endpoint":"x",'
        b'"model":"m","status":200,"prompt_tokens":1,"completion_tokens":2,"prompt":"\\ud800"}',
        b'{"schema_version":1.0,"event_id":"e","timestamp":1795515302481,"account_id":"a","endpoint":"x",'
        b'"model":"m","status":200,"prompt_tokens":1,"completion_tokens":2}',
        b'{"schema_version":1,"event_id":"e","timestamp":"2026-11-24T10:15:02Z","account_id":"a",'
        b'"endpoint":"x","model":"m","status":9223372036854775808,"prompt_tokens":1,"completion_tokens":2,'
        b'"params":{"temperature":1,"seed":null,"logprobs":true}}',
    ],
    ids=["duplicate-key", "escaped-key", "lone-surrogate", "float-version", "uint64-status"],
)
def test_json_corner_cases_get_the_contracts_verdict(raw: bytes) -> None:
    """Duplicate and escaped keys, lone surrogates, a float version and an unsigned 64-bit status:
    the fast decoder agrees with the contract on each."""
    check_outcome(raw)


def test_an_event_only_the_contract_reads_is_processed_with_the_contracts_values() -> None:
    """A status of 2**63 is valid by the contract but beyond the fast decoder: it is still an
    event, with the same values, through the contract's path."""
    raw = orjson.dumps(event("acct_big", status=2**63 - 1)).replace(
        b"9223372036854775807", b"9223372036854775808"
    )
    contract = validate_one(raw, max_message_bytes=LIMIT)
    assert isinstance(contract, ApiCallEvent) and contract.status == 2**63
    fast = decode_event(raw, max_message_bytes=LIMIT)
    assert isinstance(fast, Decoded) and fast.event.status == 2**63
    assert_same_verdict(raw, contract)


@given(st.binary(max_size=600))
def test_snapshot_decoder_rejects_garbage_with_snapshot_error_only(raw: bytes) -> None:
    """A changelog value that is not ours fails with SnapshotError, never anything else."""
    with contextlib.suppress(SnapshotError):
        decode_account("acct", raw)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=400))
def test_a_corrupted_snapshot_is_rejected_or_read_never_crashes(noise: bytes, at: int) -> None:
    """Bytes spliced into a real changelog value either still decode or raise SnapshotError."""
    state = AccountState("acct", "org", 1.7e9)
    good = encode_account(state)
    cut = min(at, len(good))
    with contextlib.suppress(SnapshotError):
        decode_account("acct", good[:cut] + noise + good[cut + len(noise) :])


def corpus_outcome(result: Any) -> dict[str, str]:
    if result.dead_letters:
        return {"outcome": "dead_letter", "reason": result.dead_letters[0].reason}
    return {"outcome": "duplicate"} if result.duplicate else {"outcome": "processed"}


def test_fuzz_corpus_cases_end_as_expected() -> None:
    """Every file of the fuzz corpus, in order through one detector, ends as its manifest says:
    a dead letter with that reason, a processed event, or a recognised duplicate."""
    expected = json.loads((CORPUS / "expected.json").read_text())
    # The corpus's oversized case (70 KB) was built for a 64 KiB limit; the default is 1 MiB.
    detector = Detector(Settings(max_message_bytes=CORPUS_LIMIT), clock=lambda: FIXED_NOW)
    outcomes = {}
    for offset, name in enumerate(sorted(expected)):
        raw = (CORPUS / name).read_bytes()
        assert_same_verdict(raw, validate_one(raw, max_message_bytes=CORPUS_LIMIT), CORPUS_LIMIT)
        outcomes[name] = corpus_outcome(detector.process_one(raw, SourceRef("api-calls", 0, offset, b"fuzz")))
    assert outcomes == expected
    dead = [n for n, o in expected.items() if o["outcome"] == "dead_letter"]
    assert len(dead) >= 50 and len(expected) - len(dead) >= 20
    # The late event was folded in without rewinding the account's clock.
    state = detector.partition(0).accounts.get("acct_fuzz")
    assert state is not None and not math.isnan(state.last_seen)
    assert state.last_seen == datetime(2026, 11, 2, 10, tzinfo=UTC).timestamp()
