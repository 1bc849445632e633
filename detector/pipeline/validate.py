"""Bytes from the wire → a validated event, or a ``Rejected`` record for the DLQ.

Errors are data: nothing here raises on bad input. Rejection details name the rule and the
field, never the value, because the value may be prompt text.

The contract is the pydantic model ``ApiCallEvent`` (the schema in ``schemas/`` is generated
from it, and ``validate_one`` applies it). The worker's hot path, ``decode_event``, first tries a
msgspec decoder of the same fields (one C pass, ~1 us against ~5 us): it may only say yes to what
the contract accepts, and anything it refuses is handed to ``validate_one``, which gives the
verdict and the dead-letter reason. So the fast decoder can never reject a valid event or word a
rejection differently; ``tests/unit/test_decode_properties.py`` checks on every generated input
that whatever it accepts, the contract accepts with the same values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import orjson
from pydantic import ValidationError

from detector.events import (
    EVENT_SCHEMA_VERSION,
    MAX_TOKENS_PER_CALL,
    ApiCallEvent,
    Rejected,
    event_time,
    is_ip_address,
)

# orjson (the contract's JSON reader) reads integers beyond 64 bits as floats, which a strict
# integer field rejects; msgspec would read them as integers, so the fast path bounds them (to
# int64, the widest bound it takes: 2**63 .. 2**64 - 1 goes to the contract's own path).
_INT64_MAX = 2**63 - 1
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=_INT64_MAX)]
_Count = Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)]
_Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS_PER_CALL)]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class CallEventParams(msgspec.Struct, gc=False):
    """``ApiCallEvent.params`` as the fast decoder reads it (same names, defaults and rules)."""

    temperature: float | None = None
    top_p: float | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=_INT64_MAX)] = 1
    max_tokens: _Int | None = None
    logprobs: bool = False
    top_logprobs: _Count = 0
    logit_bias_size: _Count = 0
    stream: bool = False
    tools: _Count = 0
    seed: _Int | None = None


class CallEvent(msgspec.Struct, gc=False):
    """A validated event as the worker holds it: ``ApiCallEvent``'s fields, with ``timestamp`` as
    it came (its rule is applied by ``decode_event``, which returns the event time beside it).

    msgspec reads no non-finite float (an overflowing number is out of range, NaN is not JSON), so
    the finite-number rule needs no code here.
    """

    schema_version: Literal[1]
    event_id: _Id
    timestamp: str | _Int
    account_id: _Id
    endpoint: str
    model: str
    status: _Int
    prompt_tokens: _Tokens
    completion_tokens: _Tokens
    org_id: str | None = None
    api_key_id: str | None = None
    client_ip: str | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    reasoning_tokens: _Tokens = 0
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    messages: Annotated[int, msgspec.Meta(ge=1, le=_INT64_MAX)] = 1
    system_prompt_hash: str | None = None
    end_user_id: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    prompt: str | None = None
    params: CallEventParams = msgspec.field(default_factory=CallEventParams)


class Decoded(NamedTuple):
    """A valid event and its event time (seconds since the epoch, UTC)."""

    event: CallEvent
    at: float


_FAST_DECODER = msgspec.json.Decoder(CallEvent)
# What msgspec raises on bad input (deep nesting, found by the fuzz corpus, is a RecursionError),
# and ValueError from the timestamp rule: each hands the message to the contract's path.
_FAST_DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError, ValueError, RecursionError)


def decode_event(
    raw: bytes,
    *,
    max_message_bytes: int,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
) -> Decoded | Rejected:
    """``validate_one`` for the worker's hot path: the same verdicts, faster on valid events."""
    if len(raw) <= max_message_bytes:
        try:
            event = _FAST_DECODER.decode(raw)
            at = event_time(event.timestamp).timestamp()
        except _FAST_DECODE_ERRORS:
            pass
        else:
            if event.client_ip is None or is_ip_address(event.client_ip):
                return Decoded(event, at)
    verdict = validate_one(
        raw, max_message_bytes=max_message_bytes, topic=topic, partition=partition, offset=offset, key=key
    )
    if isinstance(verdict, Rejected):
        return verdict
    # Valid, though the fast decoder refused it (an integer above 2**63 - 1, which only the
    # contract's reader takes): carried over from the contract's own reading.
    return Decoded(from_contract(verdict), verdict.timestamp.timestamp())


def from_contract(event: ApiCallEvent) -> CallEvent:
    """The worker's form of an event the contract accepted."""
    fields = event.model_dump(exclude={"params", "timestamp"})
    return CallEvent(
        **fields,
        timestamp=event.timestamp.isoformat(),
        params=CallEventParams(**event.params.model_dump()),
    )


def _describe(error: ValidationError) -> tuple[str, str]:
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    location = ".".join(str(part) for part in first["loc"]) or "event"
    kind = first["type"]
    if kind == "missing":
        return "missing_field", f"{location}: required field missing"
    if location == "timestamp":
        return "bad_timestamp", f"timestamp: {first['msg']}"
    if location.endswith("tokens") and kind in {"greater_than_equal", "greater_than"}:
        return "negative_tokens", f"{location}: must be >= 0"
    return "invalid_field", f"{location}: {kind}"


def validate_one(
    raw: bytes,
    *,
    max_message_bytes: int,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
) -> ApiCallEvent | Rejected:
    """Apply the v1 contract to one message; every failure becomes a ``Rejected``."""
    outcome = _decode(raw, max_message_bytes)
    if isinstance(outcome, tuple):
        reason, detail = outcome
        return Rejected(
            reason=reason,
            detail=detail,
            raw=raw,
            raw_key=key,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
        )
    return outcome


def _decode(raw: bytes, max_message_bytes: int) -> ApiCallEvent | tuple[str, str]:
    """The event, or (reason, detail) of its rejection. Split from ``validate_one`` so that the
    common case builds nothing for the rejection path (no closure per message)."""
    if len(raw) > max_message_bytes:
        return "oversized", f"message of {len(raw)} bytes exceeds {max_message_bytes}"
    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not_json", "message is not valid UTF-8 JSON"
    if not isinstance(document, dict):
        return "not_object", f"top-level JSON value is {type(document).__name__}, not object"
    version = document.get("schema_version")
    if version is None:
        return "missing_field", "schema_version: required field missing"
    if version != EVENT_SCHEMA_VERSION or isinstance(version, bool):
        return "unknown_schema_version", "schema_version is not 1"
    try:
        return ApiCallEvent.model_validate(document)
    except ValidationError as error:
        return _describe(error)
