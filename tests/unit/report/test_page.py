"""The report page: self-contained, deterministic, and showing what the alerts and labels say."""

from __future__ import annotations

import re

import orjson

from detector.events import Alert, Reason
from detector.report import render_report
from tests.unit.report.helpers import alert, hydra_day, labels

_FIGURE = re.compile(r'Plotly\.newPlot\(\s*"(?P<id>[^"]+)",\s*(?P<data>\[.*?\]),\s*\{', re.S)


def _figures(page: str) -> dict[str, list[dict[str, object]]]:
    """The data of every plotly figure on the page, by div id."""
    return {m["id"]: orjson.loads(m["data"]) for m in _FIGURE.finditer(page)}


def _alerts() -> list[Alert]:
    return [
        alert("a1", 10, alert_id="c1", revision=1, related=("a2",)),
        alert("a1", 40, alert_id="c1", revision=2, related=("a2", "s1")),
        alert("b1", 200, alert_id="e3"),
    ]


def test_the_page_fetches_nothing_and_inlines_plotly() -> None:
    """No script or stylesheet is loaded from elsewhere: the plotly library is in the page."""
    page = render_report(_alerts(), labels())
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", page)
    assert "Plotly.newPlot" in page and len(page) > 1_000_000


def test_the_same_alerts_render_the_same_page() -> None:
    """Deterministic: div ids and layouts do not depend on randomness or the clock."""
    assert render_report(_alerts(), labels()) == render_report(list(reversed(_alerts())), labels())


def test_campaign_graph_has_a_node_per_member_and_duplicates_do_not_add_any() -> None:
    """The campaign's graph draws its three accounts once each, though revision 2 came twice."""
    figures = _figures(render_report([*_alerts(), _alerts()[1]], labels()))
    nodes = next(trace for trace in figures["campaign-c1"] if trace.get("name") == "accounts")
    assert nodes["text"] == ["a1", "a2", "s1"]
    assert nodes["marker"]["color"] == [1, 1, 2]  # type: ignore[index]


def test_labels_add_the_evaluation_and_mark_a_benign_member() -> None:
    """With labels: the evaluation section is there and s1 (benign, named by a campaign) is an x."""
    page = render_report(_alerts(), labels())
    assert "id='evaluation'" in page and "camp_b" in page
    nodes = next(trace for trace in _figures(page)["campaign-c1"] if trace.get("name") == "accounts")
    assert nodes["marker"]["symbol"] == ["star", "circle", "x"]  # type: ignore[index]
    assert "id='evaluation'" not in render_report(_alerts())


def test_evaluation_summaries_add_the_baseline_table() -> None:
    """`detector evaluate`'s per-method summaries appear as one row per method."""
    summaries = [
        {"method": "detector", "precision": 0.9, "recall_accounts": 0.8, "false_positive_rate": 0.01},
        {"method": "volume_rule", "precision": 0.2},
    ]
    page = render_report(_alerts(), labels(), summaries)
    assert "<td>volume_rule</td><td class='num'>0.200</td>" in page


def test_no_alerts_still_renders_a_page() -> None:
    """An empty alerts file is a valid (quiet) day, not an error."""
    page = render_report([], labels())
    assert "No alerts to show." in page and "0 alert emissions" in page


def test_explanations_are_escaped() -> None:
    """Alert text is data: markup in it is shown, not interpreted."""
    hostile = alert(
        "a1", 5, reasons=[Reason(signal="x", observed=1, baseline=0, explanation="<img src=x onerror=1>")]
    )
    page = render_report([hostile])
    assert "<img src=x" not in page and "&lt;img src=x onerror=1&gt;" in page


def test_the_latest_revision_s_status_and_context_are_shown() -> None:
    """A closed episode shows why, and the optional v1 fields (workload, end user) are on its row."""
    closed = alert("a1", 50, alert_id="e9", revision=2).model_copy(
        update={
            "status": "closed",
            "status_reason": "subsided",
            "declared_workload": "eval_harness",
            "end_user_id": "u-7",
        }
    )
    page = render_report([alert("a1", 10, alert_id="e9"), closed])
    assert "closed (subsided)<br>declared: eval_harness<br>end user: u-7" in page


def test_no_prompt_text_of_the_traffic_reaches_the_page() -> None:
    """The report is built from alerts, which carry no prompt text: none of the prompts the
    traffic sent, nor their task lines, appear on the page."""
    alerts, prompts = hydra_day()
    page = render_report(alerts)
    assert prompts and alerts
    lines = {line for prompt in prompts for line in prompt.splitlines() if len(line) > 20}
    assert [line for line in lines if line in page] == []
