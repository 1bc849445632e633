"""The report page: one self-contained HTML string (plotly's JavaScript inlined once).

A pure function of (alerts, labels, evaluation summaries): the CLI reads and writes the files.
Self-contained because the report is mailed, attached to tickets and opened where the network is
closed; nothing on the page fetches anything when it is viewed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import plotly.offline

from detector.events import Alert
from detector.report import figures
from detector.report.data import (
    Campaign,
    Evaluation,
    Labels,
    account_timelines,
    campaigns,
    current,
    dedupe,
    evaluate,
    method_summaries,
)

MAX_ACCOUNT_TIMELINES = 60
_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 24px 48px;
       color: #222; }
h1 { margin-top: 24px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
nav a { margin-right: 16px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: grid; grid-template-columns: 2fr 1fr; gap: 12px; }
.muted { color: #666; font-size: 14px; }
.sev-low { color: #9a7b00; } .sev-medium { color: #c25e00; } .sev-high { color: #d62728; }
.sev-critical { color: #fff; background: #7b1020; padding: 0 4px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _time(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


def _figure(figure: go.Figure, div_id: str) -> str:
    """One figure's div and the script that draws it (the library itself is in the page head)."""
    return str(
        figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG, validate=True)
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table of already-escaped cells; ``numeric`` columns are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _severity(severity: str) -> str:
    return f"<span class='sev-{_e(severity)}'>{_e(severity)}</span>"


def _truth(account_id: str, labels: Labels | None) -> str | None:
    if labels is None:
        return None
    planted = labels.attacker(account_id)
    if planted is not None:
        return f"planted {planted.style} ({planted.campaign_id})"
    kind = labels.benign_kinds.get(account_id)
    return f"benign ({kind})" if kind else "unlabelled"


def _status(alert: Alert) -> str:
    """Status with what qualifies it: why it closed, a declared workload, the end user, since when."""
    lines = [alert.status + (f" ({alert.status_reason})" if alert.status_reason else "")]
    if alert.declared_workload:
        lines.append(f"declared: {alert.declared_workload}")
    if alert.end_user_id:
        lines.append(f"end user: {alert.end_user_id}")
    if alert.evidence_since:
        lines.append(f"evidence since {_time(alert.evidence_since)}")
    return "<br>".join(_e(line) for line in lines)


def _overview(emissions: Sequence[Alert], episodes: Sequence[Alert]) -> str:
    return (
        "<section id='overview'><h2>Alerts over time</h2><div class='figures'>"
        + _figure(figures.alerts_over_time(emissions), "alerts-over-time")
        + _figure(figures.severity_mix(episodes), "severity-mix")
        + "</div></section>"
    )


def _campaigns(found: Sequence[Campaign], labels: Labels | None) -> str:
    parts = ["<section id='campaigns'><h2>Campaigns of related accounts</h2>"]
    if not found:
        parts.append("<p class='muted'>No coordinated_extraction alerts.</p>")
    for campaign in found:
        parts.append(f"<div class='campaign' data-alert-id='{_e(campaign.alert_id)}'>")
        parts.append(_figure(figures.campaign_graph(campaign, labels), f"campaign-{campaign.alert_id}"))
        keys = ", ".join(campaign.linking_keys) or "not named in the alert's reasons"
        parts.append(
            f"<p class='muted'>Linking keys: {_e(keys)}. Anchor (earliest member): {_e(campaign.anchor)}.</p>"
        )
        parts.append(
            _table(
                ["revision", "detected (event time)", "severity", "score", "accounts", "joined"],
                (
                    [
                        str(r.revision),
                        _time(r.detected_at),
                        _severity(r.severity),
                        f"{r.score:.2f}",
                        str(r.size),
                        _e(", ".join(r.joined)) or "-",
                    ]
                    for r in campaign.revisions
                ),
                numeric=(0, 3, 4),
            )
        )
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _accounts(emissions: Sequence[Alert], episodes: Sequence[Alert], labels: Labels | None) -> str:
    rows = []
    for alert in sorted(episodes, key=lambda a: (-a.severity.rank, a.detected_at)):
        truth = _truth(alert.account_id, labels)
        rows.append(
            [
                _e(alert.account_id)
                + (
                    f" <span class='muted'>+{len(alert.related_accounts)} related</span>"
                    if alert.related_accounts
                    else ""
                ),
                _e(alert.category),
                _severity(alert.severity.value),
                f"{alert.score:.2f}",
                str(alert.revision),
                _time(alert.detected_at),
                _status(alert),
                _e(alert.verdict or "-"),
                "<br>".join(_e(r.explanation) for r in alert.reasons[:3]),
            ]
            + ([_e(truth)] if truth is not None else [])
        )
    header = [
        "account",
        "category",
        "severity",
        "score",
        "rev",
        "latest (event time)",
        "status",
        "verdict",
        "top reasons",
    ]
    parts = [
        "<section id='accounts'><h2>Alert episodes (latest revision)</h2>",
        _table(header + (["ground truth"] if labels is not None else []), rows, numeric=(3, 4)),
        "<h2 id='timelines'>Signals per account, over revisions</h2>",
        "<p class='muted'>Each marker is one signal in one revision of the account's alert; colour is "
        "how far the observed value is above the peers' baseline; hover for both values.</p>",
    ]
    timelines = account_timelines(emissions)
    order = sorted(timelines, key=lambda account: (timelines[account][0].at, account))
    for index, account in enumerate(order[:MAX_ACCOUNT_TIMELINES]):
        parts.append(
            _figure(
                figures.account_timeline(account, timelines[account], _truth(account, labels)),
                f"timeline-{index}",
            )
        )
    if len(order) > MAX_ACCOUNT_TIMELINES:
        parts.append(f"<p class='muted'>{len(order) - MAX_ACCOUNT_TIMELINES} more accounts not drawn.</p>")
    parts.append("</section>")
    return "".join(parts)


def _evaluation(result: Evaluation, summaries: Sequence[Mapping[str, Any]]) -> str:
    parts = ["<section id='evaluation'><h2>Evaluation against the simulator's labels</h2>"]
    parts.append("<h3>Recall per attack style</h3>")
    parts.append(
        _table(
            ["style", "accounts", "detected", "recall", "median delay (h)"],
            (
                [
                    _e(s.style),
                    str(s.accounts),
                    str(s.detected),
                    f"{s.recall:.2f}",
                    "-" if s.median_delay_h is None else f"{s.median_delay_h:.2f}",
                ]
                for s in result.styles
            ),
            numeric=(1, 2, 3, 4),
        )
    )
    parts.append("<h3>False positives per benign kind</h3>")
    parts.append(
        _table(
            ["kind", "accounts", "alerted", "above low", "false-positive rate"],
            (
                [
                    _e(b.kind),
                    str(b.accounts),
                    str(b.alerted),
                    str(b.above_low),
                    f"{b.false_positive_rate:.2%}",
                ]
                for b in result.benign
            ),
            numeric=(1, 2, 3, 4),
        )
    )
    parts.append("<h3>Where each campaign was caught</h3>")
    parts.append(_figure(figures.campaign_catches(result.catches), "campaign-catches"))
    parts.append(
        _table(
            ["campaign", "style", "accounts named", "first named", "after start", "by alert"],
            (
                [
                    _e(c.campaign_id),
                    _e(c.style),
                    f"{c.named}/{c.accounts}",
                    _time(c.first_at),
                    "-" if c.delay_minutes is None else f"{c.delay_minutes:.0f} min",
                    "-"
                    if c.first_alert_id is None
                    else f"{_e(c.first_category)} {_severity(c.first_severity or '')} "
                    f"<span class='muted'>{_e(c.first_alert_id[:12])} rev {c.first_revision}</span>",
                ]
                for c in result.catches
            ),
            numeric=(2, 4),
        )
    )
    if summaries:
        parts.append("<h3>Detector next to the baselines (detector evaluate)</h3>")
        parts.append(
            _table(
                [
                    "method",
                    "precision",
                    "recall (accounts)",
                    "recall (mean over styles)",
                    "FPR (benign)",
                    "FP",
                ],
                (
                    [
                        _e(s["method"]),
                        _number(s.get("precision")),
                        _number(s.get("recall_accounts")),
                        _number(s.get("recall_mean_over_styles")),
                        _number(s.get("false_positive_rate"), ".4f"),
                        f"{_e(s.get('false_positives', '-'))}/{_e(s.get('benign_accounts', '-'))}",
                    ]
                    for s in summaries
                ),
                numeric=(1, 2, 3, 4, 5),
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _number(value: object, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "-"


def render_report(
    alerts: Iterable[Alert],
    labels: Labels | None = None,
    summaries: Sequence[Mapping[str, Any]] | None = None,
    *,
    title: str = "Extraction detector report",
) -> str:
    """The whole report as one HTML document.

    ``alerts`` may hold several revisions of an episode and redelivered copies: they are deduped
    on (alert_id, revision), and the latest revision is the episode's current view. ``labels``
    adds ground truth and the evaluation tables; ``summaries`` (the per-method dicts of
    ``detector evaluate``) adds the comparison with its baselines.
    """
    emissions = dedupe(alerts)
    episodes = current(emissions)
    found = campaigns(emissions)
    coordinated = sum(a.category == "coordinated_extraction" for a in episodes)
    accounts = {name for alert in emissions for name in (alert.account_id, *alert.related_accounts)}
    span = (
        f"{_time(emissions[0].detected_at)} to {_time(emissions[-1].detected_at)}"
        if emissions
        else "no alerts"
    )
    sections = [
        "<nav><a href='#overview'>Over time</a><a href='#campaigns'>Campaigns</a>"
        "<a href='#accounts'>Episodes</a><a href='#timelines'>Signals per account</a>"
        + ("<a href='#evaluation'>Evaluation</a>" if labels is not None else "")
        + "</nav>",
        f"<p id='summary'>{len(emissions)} alert emissions in {len(episodes)} episodes "
        f"({coordinated} campaign{'' if coordinated == 1 else 's'}), naming "
        f"{len(accounts)} accounts; detected {span}.</p>",
    ]
    if emissions:
        sections.append(_overview(emissions, episodes))
        sections.append(_campaigns(found, labels))
        sections.append(_accounts(emissions, episodes, labels))
    else:
        sections.append("<p class='muted'>No alerts to show.</p>")
    if labels is not None:
        sections.append(_evaluation(evaluate(emissions, labels), method_summaries(summaries)))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head>"
        f"<body><h1>{_e(title)}</h1>" + "".join(sections) + "</body></html>\n"
    )
