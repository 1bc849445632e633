"""Property tests: verdict decoding never raises, and account feedback survives the changelog."""

from __future__ import annotations

import json
import math
import struct
import zlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.events import Rejected
from detector.pipeline.feedback import FEEDBACK_FEATURES, AccountFeedback
from detector.pipeline.snapshot import SnapshotError, decode_account, encode_account
from detector.pipeline.state import AccountState
from detector.verdicts import AnalystVerdict, WorkloadDeclaration, decode_feedback

times = st.one_of(st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf]))
texts = st.one_of(st.none(), st.text(max_size=40))
vectors = st.one_of(
    st.just(()), st.tuples(*[st.floats(allow_nan=False, allow_infinity=False)] * len(FEEDBACK_FEATURES))
)
feedbacks = st.builds(
    AccountFeedback,
    episode_open=st.booleans(),
    evidence_at=times,
    episode_start=times,
    alert_score=st.floats(0, 1),
    alert_requests=st.integers(0, 2**40),
    alert_tokens=st.integers(0, 2**40),
    alert_signals=st.text(max_size=40),
    alert_vector=vectors,
    alert_verdict=st.sampled_from([None, "confirmed", "false_positive", "allowlisted"]),
    verdict=texts,
    verdict_until=times,
    verdict_score=st.floats(0, 1),
    verdict_signals=st.text(max_size=40),
    label=st.sampled_from([-1, 0, 1]),
    label_vector=vectors,
    label_alert_id=texts,
    workload=texts,
    workload_until=times,
)


@given(feedbacks)
def test_account_feedback_round_trips_through_the_changelog_encoding(feedback: AccountFeedback) -> None:
    """Whatever the feedback holds (infinities, unicode, empty vectors) decodes to the same."""
    state = AccountState("acct", None, 1.0)
    state.feedback = feedback
    assert decode_account("acct", encode_account(state)).feedback == feedback


@given(st.binary(max_size=300))
def test_a_garbled_feedback_slot_is_a_snapshot_error(payload: bytes) -> None:
    """A feedback slot that is not a readable object is rejected, never half-read."""
    record = b"DS" + bytes([2]) + struct.pack("<H", 1) + struct.pack("<Ic", zlib.crc32(b"feedback"), b"F")
    record += struct.pack("<I", len(payload)) + payload
    try:
        state = decode_account("acct", record)
    except SnapshotError:
        return
    assert isinstance(state.feedback, AccountFeedback)


@given(st.binary(max_size=500), st.one_of(st.none(), st.binary(max_size=20)))
def test_decoding_random_bytes_never_raises(raw: bytes, key: bytes | None) -> None:
    """Any bytes on the verdicts topic are a verdict, a declaration or a dead letter."""
    assert isinstance(decode_feedback(raw, key), Rejected | AnalystVerdict | WorkloadDeclaration)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(
    st.sampled_from(["kind", "account_id", "alert_id", "verdict", "until", "decided_at", "note", "workload"]),
    json_values,
)
def test_any_value_in_any_field_is_handled(name: str, value: object) -> None:
    """A valid verdict with one field replaced by any JSON value decodes or is a dead letter."""
    document = {"schema_version": 1, "account_id": "a", "verdict": "confirmed", name: value}
    result = decode_feedback(json.dumps(document).encode(), b"a")
    if isinstance(result, Rejected):
        assert result.reason in {
            "invalid_verdict",
            "invalid_declaration",
            "unknown_kind",
            "account_key_mismatch",
            "no_account",
        }
    else:
        assert result.account_id == "a"


@pytest.mark.parametrize("until", ["2026-11-02T00:00:00Z", 1793577600000])
def test_until_takes_the_event_contract_s_time_forms(until: object) -> None:
    """`until` is an RFC 3339 time with offset or epoch milliseconds, like event timestamps."""
    result = decode_feedback(
        orjson.dumps({"schema_version": 1, "verdict": "allowlisted", "until": until}), b"a"
    )
    assert isinstance(result, AnalystVerdict)
    assert result.until is not None and result.until.timestamp() == 1793577600.0
