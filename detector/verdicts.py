"""Wire models of the verdicts topic: what analysts and operators tell the detector.

Two kinds of message share the topic (``kind``, default ``verdict``), both keyed by
``account_id`` so that they land on the partition of the account's events and reach the worker
that owns the account:

* ``AnalystVerdict``: an analyst's conclusion about an alert or an account (``confirmed``,
  ``false_positive``, ``allowlisted`` until a time);
* ``WorkloadDeclaration``: an operator's statement of what an account legitimately does
  (``eval_harness``, ``router``...) until a time.

Like ``events.py`` these are public contracts; ``schemas/*.json`` are generated from them.
``decode_feedback`` turns raw bytes into one of them or a ``Rejected`` for the dead-letter topic:
a bad verdict is data, never an exception.

>>> decode_feedback(b'{"schema_version": 1, "account_id": "a1", "verdict": "false_positive"}', None).verdict
'false_positive'
>>> decode_feedback(b'{"verdict": "maybe"}', None).reason
'invalid_verdict'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.events import Rejected, event_time

VERDICT_SCHEMA_VERSION = 1
# A verdict is a few hundred bytes; anything far larger is not one (and is not parsed).
MAX_VERDICT_BYTES = 64 * 1024

VerdictKind = Literal["confirmed", "false_positive", "allowlisted"]
Workload = Literal["eval_harness", "batch_job", "router", "tutoring_product", "data_labelling"]
AccountId = Annotated[str, Field(min_length=1, max_length=128)]


def _parse_time(value: Any) -> Any:
    return None if value is None else event_time(value)


class AnalystVerdict(BaseModel):
    """An analyst's verdict (contract v1) on an alert episode (``alert_id``) or an account.

    ``account_id`` may be left out when the record key carries it (the key must be the account id
    anyway, for the verdict to reach the worker that owns the account).
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        strict=True,
        json_schema_extra={"title": "AnalystVerdict v1", "$id": "analyst-verdict-v1.schema.json"},
    )

    schema_version: Literal[1]
    kind: Literal["verdict"] = "verdict"
    account_id: AccountId | None = Field(None, description="The account; defaults to the record key.")
    alert_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="The alert episode the verdict is about (latest episode of the account if absent)."
    )
    verdict: VerdictKind = Field(
        description="`confirmed`: an attack; `false_positive`: benign, suppress until the behaviour "
        "changes materially; `allowlisted`: benign, suppress until `until`."
    )
    until: datetime | None = Field(
        None,
        description="Event time the verdict lapses (RFC 3339 or epoch ms); `allowlisted` without it lasts "
        "DETECTOR_ALLOWLIST_DEFAULT_SECONDS.",
        json_schema_extra={
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}, {"type": "null"}]
        },
    )
    decided_at: datetime | None = Field(
        None,
        description="Event time of the decision; defaults to the newest event time the worker has seen.",
        json_schema_extra={
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}, {"type": "null"}]
        },
    )
    note: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="Free text for people; never interpreted, logged or alerted."
    )

    @field_validator("until", "decided_at", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        return _parse_time(value)


class WorkloadDeclaration(BaseModel):
    """An operator's declaration (contract v1) of an account's legitimate workload until a time.

    While it is in force the account's signals that kind of workload legitimately shows are
    compared with that kind rather than with the whole population; the signals no legitimate
    workload shows (the distillation pattern itself, harvest surges, logit probing) are not.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        strict=True,
        json_schema_extra={"title": "WorkloadDeclaration v1", "$id": "workload-declaration-v1.schema.json"},
    )

    schema_version: Literal[1]
    kind: Literal["declaration"]
    account_id: AccountId | None = Field(None, description="The account; defaults to the record key.")
    workload: Workload
    until: datetime = Field(
        description="Event time the declaration expires (RFC 3339 or epoch ms). Required: none is forever.",
        json_schema_extra={"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
    )
    note: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: Any) -> Any:
        return event_time(value)


Feedback = AnalystVerdict | WorkloadDeclaration


def _reject(reason: str, detail: str, raw: bytes, key: bytes | None, **source: Any) -> Rejected:
    return Rejected(reason=reason, detail=detail, raw=raw, raw_key=key, **source)


def decode_feedback(
    raw: bytes,
    key: bytes | None,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Feedback | Rejected:
    """One verdicts-topic record as a verdict or declaration with its ``account_id`` filled in,
    or a ``Rejected`` whose reason code says why (``not_json``, ``invalid_verdict``,
    ``invalid_declaration``, ``unknown_kind``, ``no_account``, ``account_key_mismatch``,
    ``oversized``)."""
    source: dict[str, Any] = {"source_topic": topic, "source_partition": partition, "source_offset": offset}
    if len(raw) > MAX_VERDICT_BYTES:
        return _reject("oversized", f"verdict larger than {MAX_VERDICT_BYTES} bytes", raw, key, **source)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _reject("not_json", "value is not a JSON document", raw, key, **source)
    if not isinstance(document, dict):
        return _reject("not_json", "value is not a JSON object", raw, key, **source)
    kind = document.get("kind", "verdict")
    model: type[AnalystVerdict] | type[WorkloadDeclaration]
    if kind == "verdict":
        model, reason = AnalystVerdict, "invalid_verdict"
    elif kind == "declaration":
        model, reason = WorkloadDeclaration, "invalid_declaration"
    else:
        return _reject("unknown_kind", "kind must be `verdict` or `declaration`", raw, key, **source)
    try:
        message: Feedback = model.model_validate(document)
    except ValidationError as error:
        # Field locations and rule names only: values (a note, an id) are never echoed.
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['type']}" for e in error.errors()[:5]
        )
        return _reject(reason, detail, raw, key, **source)
    try:
        key_account = key.decode("utf-8") if key else None
    except UnicodeDecodeError:
        key_account = None
    if message.account_id is None:
        if not key_account:
            return _reject("no_account", "neither account_id nor a UTF-8 record key", raw, key, **source)
        message = message.model_copy(update={"account_id": key_account})
    elif key_account is not None and key_account != message.account_id:
        # Keyed by another account, it sits on a partition its owner may not read.
        return _reject("account_key_mismatch", "record key is not the account_id", raw, key, **source)
    return message


class DeclarationsFileError(ValueError):
    """The declarations file is not a JSON array or JSONL of valid declarations (fatal at start:
    an operator's mistake there must not pass silently)."""


def parse_declarations(text: str) -> dict[str, WorkloadDeclaration]:
    """Declarations by account from a JSON array or JSON lines (``kind`` may be left out)."""
    stripped = text.strip()
    documents: list[Any]
    try:
        if stripped.startswith("["):
            documents = orjson.loads(stripped)
        else:
            documents = [orjson.loads(line) for line in stripped.splitlines() if line.strip()]
    except orjson.JSONDecodeError as error:
        raise DeclarationsFileError(f"not JSON or JSON lines: {error}") from error
    out: dict[str, WorkloadDeclaration] = {}
    for number, document in enumerate(documents, start=1):
        if not isinstance(document, dict):
            raise DeclarationsFileError(f"declaration {number} is not an object")
        try:
            declaration = WorkloadDeclaration.model_validate({"kind": "declaration", **document})
        except ValidationError as error:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors()[:5])
            raise DeclarationsFileError(f"declaration {number} is invalid ({fields})") from error
        if declaration.account_id is None:
            raise DeclarationsFileError(f"declaration {number} has no account_id")
        out[declaration.account_id] = declaration  # a later line for the same account wins
    return out
