"""The verdicts-topic contract and the declarations file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from detector.events import Alert, Rejected
from detector.pipeline.coordination import Fingerprint
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector
from detector.settings import Settings
from detector.verdicts import (
    AnalystVerdict,
    DeclarationsFileError,
    WorkloadDeclaration,
    decode_feedback,
    parse_declarations,
)

NOW = datetime(2026, 1, 2, tzinfo=UTC)

LINE = '{"schema_version": 1, "account_id": "acct_e", "workload": "eval_harness", "until": "2027-01-01T00:00:00Z"}'


def test_declarations_file_reads_json_lines_and_arrays_alike() -> None:
    """JSONL and a JSON array give the same declarations; `kind` may be left out; the last
    declaration of an account wins."""
    later = LINE.replace("eval_harness", "batch_job")
    from_lines = parse_declarations(f"{LINE}\n\n{later}\n")
    from_array = parse_declarations(f"[{LINE}, {later}]")
    assert from_lines == from_array
    assert isinstance(from_lines["acct_e"], WorkloadDeclaration)
    assert from_lines["acct_e"].workload == "batch_job"


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1]",
        LINE.replace("eval_harness", "crawler"),
        LINE.replace(', "until": "2027-01-01T00:00:00Z"', ""),
        LINE.replace('"account_id": "acct_e", ', ""),
    ],
)
def test_a_bad_declarations_file_is_refused_at_start(text: str) -> None:
    """An operator's mistake in the file stops the start with a message, not silently."""
    with pytest.raises(DeclarationsFileError):
        parse_declarations(text)


def test_a_file_declaration_applies_until_it_expires() -> None:
    """The detector consults file declarations by account and event time."""
    detector = Detector(Settings(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    detector.lifecycle.static_declarations = parse_declarations(LINE)
    state = AccountState("acct_e", None, 0.0)
    expiry = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert detector.lifecycle.workload(state, expiry - 1) == "eval_harness"
    assert detector.lifecycle.workload(state, expiry) is None
    assert detector.lifecycle.workload(AccountState("other", None, 0.0), 0.0) is None


# --- the committed schemas describe what the worker accepts ----------------------------------------
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
VERDICT = {
    "schema_version": 1,
    "account_id": "acct_7",
    "alert_id": "b27ab8de92a1c5b285e00f8aa388acb0",
    "verdict": "allowlisted",
    "until": "2027-01-01T00:00:00Z",
    "decided_at": 1_790_000_000_000,
    "note": "our eval lab",
}
DECLARATION = {
    "schema_version": 1,
    "kind": "declaration",
    "account_id": "acct_7",
    "workload": "router",
    "until": "2027-01-01T00:00:00Z",
}


def schema(name: str) -> jsonschema.Draft202012Validator:
    document = orjson.loads((SCHEMAS / name).read_bytes())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


@pytest.mark.parametrize(
    ("name", "document"),
    [("analyst-verdict-v1.schema.json", VERDICT), ("workload-declaration-v1.schema.json", DECLARATION)],
)
def test_a_sample_verdict_and_declaration_match_the_committed_schemas(
    name: str, document: dict[str, Any]
) -> None:
    """What a producer writes from the published schema is valid there and decodes on the topic;
    the same document with a verdict or workload the contract does not know fails both."""
    validator = schema(name)
    validator.validate(document)
    decoded = decode_feedback(orjson.dumps(document), b"acct_7")
    assert isinstance(decoded, AnalystVerdict | WorkloadDeclaration)
    field = "verdict" if "verdict" in document else "workload"
    bad = {**document, field: "maybe"}
    assert not validator.is_valid(bad)
    assert isinstance(decode_feedback(orjson.dumps(bad), b"acct_7"), Rejected)


def test_a_verdict_naming_a_campaign_never_silences_its_members() -> None:
    """A false positive keyed by a campaign member and naming the campaign's alert_id: whatever it
    does to the campaign's episode, the members still reporting and the campaign's newcomers still
    raise a campaign alert (docs/operations.md, "Verdicts on a campaign")."""
    detector = Detector(Settings(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    stage = detector.coordination
    assert stage is not None
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()

    def members(at: float, accounts: range) -> list[Alert]:
        alerts: list[Alert] = []
        for i in accounts:
            keys = (("system_prompt", 42), ("network", 1000 + i % 3))
            alerts += stage.observe_one(
                Fingerprint(f"acct_{i:02d}", None, at + i, at, 3.0, 10, 9_000, keys), NOW
            )
        return alerts

    campaign_id = members(start, range(12))[-1].alert_id
    verdict = AnalystVerdict(
        schema_version=1,
        account_id="acct_00",
        alert_id=campaign_id,
        verdict="false_positive",
        decided_at=int((start + 300) * 1000),  # type: ignore[arg-type]  # the wire form (epoch ms)
    )
    closing = detector.apply_feedback(verdict).alerts
    assert [(a.alert_id, a.status, a.verdict) for a in closing] == [(campaign_id, "closed", "false_positive")]
    again = members(start + 600, range(24))
    assert again and all(a.category == "coordinated_extraction" for a in again)
    assert all(a.alert_id != campaign_id for a in again), "members still showing it are a new campaign"


def test_a_confirmed_campaign_gets_a_revision_carrying_the_verdict() -> None:
    """An analyst confirms a campaign through the verdicts topic path (keyed by a member): the
    campaign's next revision says so and stays open."""
    detector = Detector(Settings(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    stage = detector.coordination
    assert stage is not None
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    alerts: list[Alert] = []
    for i in range(12):
        keys = (("system_prompt", 42), ("network", 1000 + i % 3))
        alerts += stage.observe_one(
            Fingerprint(f"acct_{i:02d}", None, start + i, start, 3.0, 10, 9_000, keys), NOW
        )
    last = alerts[-1]
    verdict = AnalystVerdict(
        schema_version=1, account_id="acct_03", alert_id=last.alert_id, verdict="confirmed"
    )
    (revision,) = detector.apply_feedback(verdict).alerts
    assert (revision.alert_id, revision.revision, revision.verdict) == (
        last.alert_id,
        last.revision + 1,
        "confirmed",
    )
    assert revision.status != "closed"
