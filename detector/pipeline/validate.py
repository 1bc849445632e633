"""Bytes from the wire → a validated ``ApiCallEvent``, or a ``Rejected`` record for the DLQ.

Errors are data: nothing here raises on bad input. Rejection details name the rule and the
field, never the value, because the value may be prompt text.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from detector.events import EVENT_SCHEMA_VERSION, ApiCallEvent, Rejected


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
