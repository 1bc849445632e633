"""The CLI edges of the report: `detector report` and `detector evaluate --report` write a page."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from detector.cli import HANDLERS, build_parser
from detector.settings import Settings
from tests.unit.report.helpers import alert, at


def _run(argv: list[str]) -> int:
    """One command as `detector` runs it, without `main`'s process-wide GC tuning."""
    args = build_parser().parse_args(argv)
    return HANDLERS[args.command](Settings(), args)


def test_report_command_reads_alerts_and_labels_and_writes_the_page(tmp_path: Path) -> None:
    """`detector report --alerts --labels --out`: the page names the alerted account and has the
    evaluation section that only labels bring."""
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(b"".join(orjson.dumps(a.model_dump(mode="json")) + b"\n" for a in [alert("a1", 10)]))
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "seed": 1,
                "campaigns": [
                    {
                        "account_id": "a1",
                        "campaign_id": "camp_a",
                        "style": "hydra",
                        "start": at(0).isoformat(),
                        "end": at(60).isoformat(),
                    }
                ],
                "benign_kinds": {"n1": "benign"},
            }
        )
    )
    out = tmp_path / "report.html"
    assert _run(["report", "--alerts", str(alerts), "--labels", str(labels), "--out", str(out)]) == 0
    page = out.read_text()
    assert "a1" in page and "id='evaluation'" in page and "camp_a" in page


def test_evaluate_report_flag_writes_the_page_with_the_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`detector evaluate --report`: next to its tables, a page with the detector-vs-baselines
    table and the planted campaigns of the run."""
    out = tmp_path / "evaluation.html"
    argv = [
        "evaluate",
        "--world",
        "default",
        "--hours",
        "1",
        "--accounts",
        "10",
        "--seed",
        "3",
        "--condition",
        "text",
    ]
    assert _run([*argv, "--report", str(out)]) == 0
    page = out.read_text()
    assert "Detector next to the baselines" in page and "<td>hst_rates</td>" in page
    assert "camp_bulk_1" in page
    assert "| method |" in capsys.readouterr().out


def test_evaluate_feedback_refuses_a_report_it_would_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`evaluate --feedback --report F` exits 2 and says why, instead of silently writing nothing."""
    out = tmp_path / "page.html"
    assert _run(["evaluate", "--feedback", "--report", str(out)]) == 2
    assert "--report" in capsys.readouterr().err
    assert not out.exists()
