"""The v1 event contract, as the spec states it, and the alert model."""

from __future__ import annotations

import orjson
import pytest

from detector import events
from detector.events import ApiCallEvent, Rejected
from detector.pipeline.validate import validate_one
from tests.factories import encode, event

SPEC_EXAMPLE = b"""{"schema_version": 1, "event_id": "9b2f0c1e-4a77-4a0e-9a52-3f1f7f0f2a10",
 "timestamp": "2026-11-24T10:15:02.481Z", "account_id": "acct_7Qm2", "org_id": "org_19",
 "api_key_id": "key_a81", "client_ip": "203.0.113.7", "user_agent": "openai-python/1.54.0",
 "endpoint": "chat.completions", "model": "frontier-large", "status": 200,
 "prompt_tokens": 412, "completion_tokens": 1630, "reasoning_tokens": 0, "latency_ms": 9120.5,
 "messages": 1, "system_prompt_hash": null,
 "prompt": "Solve the following problem. Think step by step and show every step of your reasoning: ...",
 "params": {"temperature": 0.0, "n": 1, "max_tokens": 4096, "logprobs": true, "top_logprobs": 5}}"""


def check(raw: bytes) -> ApiCallEvent | Rejected:
    return validate_one(raw, max_message_bytes=65_536)


def test_spec_example_is_accepted() -> None:
    """The example printed in the contract validates with every field as written."""
    result = check(SPEC_EXAMPLE)
    assert isinstance(result, ApiCallEvent)
    assert result.params.top_logprobs == 5
    assert result.timestamp.isoformat() == "2026-11-24T10:15:02.481000+00:00"


def test_epoch_milliseconds_and_offsets_are_the_same_instant() -> None:
    """Both timestamp forms of the contract parse to the same UTC instant."""
    as_text = check(encode(event(timestamp="2026-11-24T12:15:02.481+02:00")))
    as_millis = check(encode(event(timestamp=1_795_515_302_481)))
    assert isinstance(as_text, ApiCallEvent) and isinstance(as_millis, ApiCallEvent)
    assert as_text.timestamp == as_millis.timestamp


def test_unknown_fields_are_ignored_not_rejected() -> None:
    """A newer gateway's extra fields do not make an event invalid."""
    result = check(encode(event(new_field={"x": 1}, params={"reasoning_effort": "high"})))
    assert isinstance(result, ApiCallEvent)


def test_optional_fields_take_contract_defaults() -> None:
    """Absent optional fields get the defaults the contract names."""
    document = event()
    for name in ("org_id", "api_key_id", "client_ip", "user_agent", "messages", "prompt", "params"):
        document.pop(name)
    result = check(encode(document))
    assert isinstance(result, ApiCallEvent)
    assert (result.messages, result.reasoning_tokens, result.params.n, result.params.logprobs) == (
        1,
        0,
        1,
        False,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'{"schema_version": 1, "timestamp": NaN}', "not_json"),
        (encode(event(schema_version=2)), "unknown_schema_version"),
        (encode(event(schema_version="1")), "unknown_schema_version"),
        (encode(event(prompt_tokens=-1)), "negative_tokens"),
        (encode(event(completion_tokens=-5)), "negative_tokens"),
        (encode(event(status="200")), "invalid_field"),
        (encode(event(prompt_tokens=1.5)), "invalid_field"),
        (encode(event(timestamp="yesterday")), "bad_timestamp"),
        (encode(event(timestamp="2026-11-24T10:15:02")), "bad_timestamp"),
        (encode(event(timestamp=10**18)), "bad_timestamp"),
        (encode(event(timestamp=True)), "bad_timestamp"),
        (encode(event(client_ip="999.1.1.1")), "invalid_field"),
        (encode(event(account_id="")), "invalid_field"),
        (encode(event(account_id="a" * 129)), "invalid_field"),
        (encode(event(params={"logprobs": "yes"})), "invalid_field"),
        (encode(event(params={"n": 0})), "invalid_field"),
        (encode(event(messages=0)), "invalid_field"),
        (encode(event(user_agent="u" * 513)), "invalid_field"),
    ],
)
def test_invalid_input_becomes_a_rejection_with_a_reason(raw: bytes, reason: str) -> None:
    """Each contract rule rejects with its own reason code and keeps the original bytes."""
    result = check(raw)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.raw == raw


@pytest.mark.parametrize("field", ["event_id", "timestamp", "account_id", "endpoint", "model", "status"])
def test_missing_required_field_is_rejected(field: str) -> None:
    """Every required field of the contract is required."""
    document = event()
    document.pop(field)
    result = check(encode(document))
    assert isinstance(result, Rejected)
    assert result.reason == "missing_field"
    assert field in result.detail


def test_oversized_message_is_rejected_before_parsing() -> None:
    """A message above the size limit is dead-lettered as oversized."""
    raw = encode(event(prompt="x" * 70_000))
    result = check(raw)
    assert isinstance(result, Rejected)
    assert result.reason == "oversized"


def test_rejection_detail_never_echoes_the_prompt() -> None:
    """The reason text names the rule, never the value (which may be prompt text)."""
    secret = "CANARY-PROMPT-7f3a"
    raw = orjson.dumps({**event(), "prompt": 12345, "model": secret})
    result = check(raw)
    assert isinstance(result, Rejected)
    assert secret not in result.detail and "12345" not in result.detail


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("203.0.113.7", True),
        ("2001:db8::1", True),
        ("fe80::1%" + "x" * 200, True),  # a scope id may be any length
        ("203.0.113.256", False),
        ("01.2.3.4", False),
        ("not an address " * 10, False),
    ],
)
def test_client_ip_check_is_the_same_every_time_and_keeps_no_long_values(address: str, valid: bool) -> None:
    """The remembered IP check answers as the first check did; long values are checked, not kept."""
    for _ in range(2):
        result = check(encode(event(client_ip=address)))
        assert isinstance(result, ApiCallEvent) is valid
        if not valid:
            assert isinstance(result, Rejected) and result.detail == "client_ip: value_error"
    kept = events._is_ip_address_cached.cache_info().currsize
    check(encode(event(client_ip="fe80::2%" + "y" * 200)))
    assert events._is_ip_address_cached.cache_info().currsize == kept
