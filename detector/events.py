"""Wire models: the API-call event we read, the alert we publish, the dead letter we park.

These pydantic models are the public contracts; ``schemas/*.json`` are generated from them by
``detector schemas`` and a test fails when the committed files drift.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

EVENT_SCHEMA_VERSION = 1
ALERT_SCHEMA_VERSION = 1

# Event time must be a plausible calendar time; anything outside is a gateway bug, not a call.
_MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_EVENT_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
# A token count above this is a gateway bug, not a call; bounding it keeps every per-account sum
# (64-bit) finite whatever a hostile or broken producer sends (found by fuzzing: 2**64 - 1).
MAX_TOKENS_PER_CALL = 1_000_000_000
TokenCount = Annotated[StrictInt, Field(ge=0, le=MAX_TOKENS_PER_CALL)]


def event_time(value: Any) -> datetime:
    """The contract's timestamp rule (RFC 3339 with an offset, or epoch milliseconds, inside
    2000..2200) as an aware UTC time; ``ValueError`` says which part of the rule failed."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be an RFC 3339 string or epoch milliseconds")
    if isinstance(value, int):
        try:
            parsed = datetime.fromtimestamp(value / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError("epoch milliseconds out of range") from exc
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("timestamp is not an RFC 3339 time") from exc
        if parsed.tzinfo is None:
            raise ValueError("RFC 3339 timestamp must carry an offset")
    else:
        raise ValueError("timestamp must be an RFC 3339 string or epoch milliseconds")
    if not _MIN_EVENT_TIME <= parsed < _MAX_EVENT_TIME:
        raise ValueError("timestamp outside 2000-01-01..2200-01-01")
    return parsed.astimezone(UTC)


def is_ip_address(value: str) -> bool:
    """The contract's ``client_ip`` rule: an IPv4 or IPv6 address as ``ipaddress`` reads it."""
    return _is_ip_address_cached(value) if len(value) <= _MAX_CACHED_IP else _is_ip_address(value)


class CallParams(BaseModel):
    """Sampling and output parameters of the call (``params`` in the contract)."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    temperature: FiniteFloat | None = None
    top_p: FiniteFloat | None = None
    n: Annotated[StrictInt, Field(ge=1)] = 1
    max_tokens: StrictInt | None = None
    logprobs: StrictBool = False
    top_logprobs: NonNegativeInt = 0
    logit_bias_size: NonNegativeInt = 0
    stream: StrictBool = False
    tools: NonNegativeInt = 0
    seed: StrictInt | None = None


class ApiCallEvent(BaseModel):
    """One completed API call, as published by the LLM API gateway (contract v1).

    Unknown fields are ignored (the gateway may be newer than the detector); wrong types are not
    coerced, so a string where a number belongs is invalid rather than silently converted.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        strict=True,
        json_schema_extra={"title": "ApiCallEvent v1", "$id": "api-call-event-v1.schema.json"},
    )

    schema_version: Literal[1]
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    timestamp: datetime = Field(
        description="RFC 3339 with offset, or epoch milliseconds (int). Event time of the call.",
        json_schema_extra={"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
    )
    account_id: Annotated[str, Field(min_length=1, max_length=128)]
    org_id: str | None = None
    api_key_id: str | None = None
    client_ip: str | None = None
    user_agent: Annotated[str, Field(max_length=512)] | None = None
    endpoint: str
    model: str
    status: StrictInt
    prompt_tokens: TokenCount
    completion_tokens: TokenCount
    reasoning_tokens: TokenCount = 0
    latency_ms: Annotated[FiniteFloat, Field(ge=0)] | None = None
    messages: Annotated[StrictInt, Field(ge=1)] = 1
    system_prompt_hash: str | None = None
    end_user_id: Annotated[str, Field(max_length=256)] | None = Field(
        None,
        description="The gateway's id of the account's own end user (OpenAI: `user` / "
        "`safety_identifier`), where a reseller or product passes one; optional (v1-compatible).",
    )
    prompt: str | None = Field(
        None, description="Text of the last user message. Sensitive: never logged, stored or alerted."
    )
    params: CallParams = Field(default_factory=CallParams)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: Any) -> datetime:
        return event_time(value)

    @field_validator("client_ip")
    @classmethod
    def _check_ip(cls, value: str | None) -> str | None:
        if value is not None and not is_ip_address(value):
            raise ValueError("client_ip is not an IPv4/IPv6 address")
        return value


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _is_ip_address(value: str) -> bool:
    # Fast path: exactly the dotted quads ``ipaddress`` accepts (no leading zeros, <= 255).
    if _DOTTED_QUAD.fullmatch(value) is not None:
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# An account calls from few addresses, so most checks are a cache hit. Bounded in entries, and
# only short values are kept (a scoped IPv6 address may be any length).
_MAX_CACHED_IP = 64
_is_ip_address_cached = lru_cache(maxsize=16_384)(_is_ip_address)


class Severity(StrEnum):
    """Alert severity, ordered: a rise in severity re-alerts inside a cooldown."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Reason(BaseModel):
    """One piece of evidence, comparable across accounts: what we saw against what is normal."""

    model_config = ConfigDict(frozen=True)

    signal: str = Field(description="Stable machine name of the signal, e.g. `single_turn_share`.")
    observed: float = Field(description="The account's value in the alert window.")
    baseline: float = Field(description="What peers (the population) show for the same signal.")
    explanation: str = Field(description="Plain words for an analyst; never contains prompt text.")


class AlertWindow(BaseModel):
    """The stretch of the account's traffic the alert is about (event time)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    requests: int = Field(ge=0)
    tokens: int = Field(ge=0)


class Alert(BaseModel):
    """A suspected-extraction alert (contract v1), keyed by ``account_id`` on the alerts topic.

    ``alert_id`` names an alert episode (account, category, event-time cooldown bucket) and is
    derived only from those, so a redelivered or recomputed alert has the same id; ``revision``
    grows when the same episode is re-emitted at a higher severity.
    """

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={"title": "Alert v1", "$id": "alert-v1.schema.json"},
    )

    schema_version: Literal[1] = 1
    alert_id: str = Field(description="Deterministic id of the alert episode (hex).")
    revision: int = Field(ge=1, description="1 = first emission; higher = the same episode escalated.")
    account_id: str
    org_id: str | None
    detected_at: datetime = Field(description="Event time of the event that triggered the alert.")
    emitted_at: datetime = Field(description="Wall-clock time the worker emitted the alert.")
    score: float = Field(ge=0.0, le=1.0)
    severity: Severity
    category: Literal["suspected_extraction", "coordinated_extraction"] = Field(
        "suspected_extraction",
        description="`suspected_extraction`: one account's own behaviour; `coordinated_extraction`: a "
        "campaign over several accounts (`account_id` = its earliest member, the others in "
        "`related_accounts`; the same `alert_id` is re-sent with a higher `revision` as it grows).",
    )
    reasons: list[Reason] = Field(description="Evidence, most important first.")
    window: AlertWindow
    related_accounts: list[str] = Field(default_factory=list)
    detector_version: str
    # Optional fields added within v1 (backward compatible: consumers ignore what they do not know).
    status: Literal["open", "closed"] = Field(
        "open", description="`closed`: the episode ended (evidence subsided or an analyst resolved it)."
    )
    status_reason: str | None = Field(
        None, description="Why the episode was closed (e.g. `subsided`, `false_positive`)."
    )
    verdict: Literal["confirmed", "false_positive", "allowlisted"] | None = Field(
        None, description="The latest analyst verdict on this episode, if any."
    )
    declared_workload: str | None = Field(
        None, description="A workload declaration in force for the account (e.g. `eval_harness`)."
    )
    end_user_id: str | None = Field(
        None, description="The end user inside a shared account the evidence points at, if any."
    )
    evidence_since: datetime | None = Field(
        None, description="Event time at which the evidence behind this alert started to build."
    )


class Rejected(BaseModel):
    """An input message that broke the contract; goes to the dead-letter topic as data."""

    model_config = ConfigDict(frozen=True)

    reason: str = Field(description="Short machine code, e.g. `not_json`, `invalid_field`.")
    detail: str = Field(description="Which rule failed; never echoes field values.")
    raw: bytes = Field(description="The original message bytes, unchanged.")
    raw_key: bytes | None = Field(None, description="The original message key, unchanged.")
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
