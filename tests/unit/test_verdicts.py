"""The verdicts-topic contract and the declarations file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector
from detector.settings import Settings
from detector.verdicts import DeclarationsFileError, WorkloadDeclaration, parse_declarations

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
