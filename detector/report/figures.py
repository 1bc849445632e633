"""Plotly figures of the report's data: alerts over time, severity mix, signals, campaigns.

Plotly (rather than hand-drawn SVG) gives hover text, zoom and a legend that toggles traces for
free, and its JavaScript can be inlined once so the page needs no network when it is opened.
Layouts are deterministic (no force simulation, no randomness): the same alerts draw the same
picture, which keeps a committed screenshot and a test honest.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from detector.events import Alert
from detector.report.data import Campaign, CampaignCatch, Labels, SignalPoint

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_COLOURS = {"low": "#f2c744", "medium": "#f08a24", "high": "#d62728", "critical": "#7b1020"}
CATEGORY_COLOURS = {"suspected_extraction": "#1f77b4", "coordinated_extraction": "#9467bd"}
MAX_NODE_LABELS = 16  # above this the account names overlap; they stay in the hover text
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 50, "b": 40}}


def _hour(at: datetime) -> str:
    return at.replace(minute=0, second=0, microsecond=0).isoformat()


def alerts_over_time(alerts: Sequence[Alert]) -> go.Figure:
    """Emissions per event-time hour, stacked by severity (left) and by category (right)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("by severity", "by category"), shared_yaxes=True)
    by_severity: Counter[tuple[str, str]] = Counter((_hour(a.detected_at), a.severity.value) for a in alerts)
    by_category: Counter[tuple[str, str]] = Counter((_hour(a.detected_at), a.category) for a in alerts)
    hours = sorted({hour for hour, _ in by_severity})
    for severity in SEVERITIES:
        figure.add_trace(
            go.Bar(
                name=severity,
                x=hours,
                y=[by_severity[(hour, severity)] for hour in hours],
                marker_color=SEVERITY_COLOURS[severity],
                legendgroup="severity",
                legendgrouptitle_text="severity",
            ),
            row=1,
            col=1,
        )
    for category, colour in CATEGORY_COLOURS.items():
        figure.add_trace(
            go.Bar(
                name=category,
                x=hours,
                y=[by_category[(hour, category)] for hour in hours],
                marker_color=colour,
                legendgroup="category",
                legendgrouptitle_text="category",
            ),
            row=1,
            col=2,
        )
    figure.update_layout(
        barmode="stack", height=340, title="Alerts emitted per hour (event time, every revision)", **_LAYOUT
    )
    figure.update_yaxes(title_text="alerts", row=1, col=1)
    return figure


def severity_mix(episodes: Sequence[Alert]) -> go.Figure:
    """Current severity of each episode, split by category."""
    figure = go.Figure()
    counts: Counter[tuple[str, str]] = Counter((a.category, a.severity.value) for a in episodes)
    for severity in SEVERITIES:
        figure.add_trace(
            go.Bar(
                name=severity,
                x=list(CATEGORY_COLOURS),
                y=[counts[(category, severity)] for category in CATEGORY_COLOURS],
                marker_color=SEVERITY_COLOURS[severity],
            )
        )
    figure.update_layout(
        barmode="stack", height=300, title="Severity mix (latest revision of each episode)", **_LAYOUT
    )
    figure.update_yaxes(title_text="episodes")
    return figure


def account_timeline(account_id: str, points: Sequence[SignalPoint], truth: str | None) -> go.Figure:
    """Score over the account's alert revisions (top) and each signal that fired (bottom); hover
    gives observed against baseline."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.3, 0.7], vertical_spacing=0.06)
    emissions = sorted({(p.at, p.revision, p.score, p.severity) for p in points})
    figure.add_trace(
        go.Scatter(
            x=[e[0].isoformat() for e in emissions],
            y=[e[2] for e in emissions],
            mode="lines+markers",
            marker={"color": [SEVERITY_COLOURS[e[3]] for e in emissions], "size": 10},
            line={"color": "#888"},
            text=[f"revision {e[1]}: {e[3]}, score {e[2]:.2f}" for e in emissions],
            hoverinfo="text",
            name="score",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    signals = sorted({p.signal for p in points})
    # A baseline of 0 (peers never show the signal) makes any ratio huge: clamp at 1000x so
    # the colours still tell signals apart.
    ratios = [min(3.0, math.log10((abs(p.observed) + 1e-3) / (abs(p.baseline) + 1e-3))) for p in points]
    figure.add_trace(
        go.Scatter(
            x=[p.at.isoformat() for p in points],
            y=[p.signal for p in points],
            mode="markers",
            marker={
                "size": 13,
                "color": ratios,
                "colorscale": "OrRd",
                "cmin": 0,
                "cmax": 3.0,
                "colorbar": {
                    "title": "observed /<br>baseline",
                    "len": 0.7,
                    "y": 0.35,
                    "tickvals": [0, 1, 2, 3],
                    "ticktext": ["≤1x", "10x", "100x", "≥1000x"],
                },
                "line": {"color": "#333", "width": 1},
            },
            text=[
                f"{p.signal} (revision {p.revision})<br>observed {p.observed:,.3g} vs baseline "
                f"{p.baseline:,.3g}<br>{p.explanation}"
                for p in points
            ],
            hoverinfo="text",
            name="signals",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text="score", range=[0, 1.05], row=1, col=1)
    figure.update_yaxes(categoryorder="array", categoryarray=signals, row=2, col=1)
    title = account_id + (f" · ground truth: {truth}" if truth else "")
    figure.update_layout(height=200 + 28 * len(signals), title=title, **_LAYOUT)
    return figure


def _outward(x: float, y: float) -> str:
    """Label position pointing away from the centre, so labels on the circle do not cross edges."""
    vertical = "top" if y > 0.5 else "bottom" if y < -0.5 else "middle"
    horizontal = "right" if x > 0.3 else "left" if x < -0.3 else "center"
    return f"{vertical} {horizontal}"


def campaign_graph(campaign: Campaign, labels: Labels | None) -> go.Figure:
    """The campaign as a star: its linking keys in the middle, members on a circle in the order
    they joined (clockwise from the top), coloured by the revision that first named them.

    A star, not a mesh: the alert says which kinds of key the members share, not which pair
    shares which, so drawing pairwise links would claim more than the evidence does.
    """
    members = campaign.members
    count = len(members)
    angles = [math.pi / 2 - 2 * math.pi * i / count for i in range(count)]
    xs = [math.cos(angle) for angle in angles]
    ys = [math.sin(angle) for angle in angles]
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for x, y in zip(xs, ys, strict=True):
        edge_x += [0.0, x, None]
        edge_y += [0.0, y, None]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines",
            line={"color": "#bbb", "width": 1},
            hoverinfo="skip",
            name="links",
        )
    )
    keys = ", ".join(campaign.linking_keys) or "keys not named in the alert"
    figure.add_trace(
        go.Scatter(
            x=[0.0],
            y=[0.0],
            mode="markers",
            marker={"size": 26, "color": "#9467bd", "symbol": "diamond"},
            hovertext=[f"campaign {campaign.alert_id[:12]}<br>members share {keys}"],
            hoverinfo="text",
            name="campaign",
        )
    )
    hover = []
    symbols = []
    for member in members:
        truth = ""
        symbol = "star" if member.anchor else "circle"
        if labels is not None:
            planted = labels.attacker(member.account_id)
            truth = (
                f"<br>ground truth: planted ({planted.campaign_id})"
                if planted
                else "<br>ground truth: benign"
            )
            symbol = symbol if planted else "x"
        hover.append(
            f"{member.account_id}{' (anchor)' if member.anchor else ''}<br>joined at revision "
            f"{member.revision}, {member.joined_at:%Y-%m-%d %H:%M} UTC{truth}"
        )
        symbols.append(symbol)
    last_revision = max(m.revision for m in members)
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text" if count <= MAX_NODE_LABELS else "markers",
            marker={
                "size": 18 if count <= 24 else max(7, 18 * 24 // count),  # neighbours do not overlap
                "symbol": symbols,
                "color": [m.revision for m in members],
                "colorscale": "Viridis",
                "cmin": 1,
                "cmax": max(2, last_revision),
                "colorbar": {"title": "joined at<br>revision", "len": 0.6, "dtick": 1},
                "line": {"color": "#222", "width": 1},
            },
            text=[m.account_id for m in members],
            textposition=[_outward(x, y) for x, y in zip(xs, ys, strict=True)],
            hovertext=hover,
            hoverinfo="text",
            name="accounts",
            meta={"members": count},
        )
    )
    axis = {"visible": False, "range": [-1.7, 1.7]}
    figure.update_layout(
        height=520,
        showlegend=False,
        title={
            "text": f"Campaign {campaign.alert_id[:12]} · {count} accounts · {len(campaign.revisions)} "
            f"revisions · {campaign.severity}<br><sup>linked by shared {keys}; hover a node for when "
            "it joined</sup>"
        },
        xaxis=axis,
        yaxis={**axis, "scaleanchor": "x"},
        **_LAYOUT,
    )
    return figure


def campaign_catches(catches: Sequence[CampaignCatch]) -> go.Figure:
    """Each planted campaign's active span, with the moment each of its accounts was first named."""
    figure = go.Figure()
    names = [c.campaign_id for c in catches]
    for catch in catches:
        figure.add_trace(
            go.Scatter(
                x=[catch.start.isoformat(), catch.end.isoformat()],
                y=[catch.campaign_id] * 2,
                mode="lines",
                line={"color": "#c7c7c7", "width": 10},
                hovertext=f"{catch.campaign_id} ({catch.style}) active",
                hoverinfo="text",
                showlegend=False,
            )
        )
    named = [(c, account, at) for c in catches for account, at in c.named_at]
    figure.add_trace(
        go.Scatter(
            x=[at.isoformat() for _, _, at in named],
            y=[c.campaign_id for c, _, _ in named],
            mode="markers",
            marker={
                "size": 9,
                "color": "#d62728",
                "symbol": "line-ns",
                "line": {"width": 2, "color": "#d62728"},
            },
            hovertext=[f"{account} first named {at:%H:%M} UTC" for _, account, at in named],
            hoverinfo="text",
            name="account first named",
        )
    )
    missed = [c for c in catches if c.first_at is None]
    figure.add_trace(
        go.Scatter(
            x=[c.end.isoformat() for c in missed],
            y=[c.campaign_id for c in missed],
            mode="markers",
            marker={"size": 12, "color": "#555", "symbol": "x"},
            hovertext=[f"{c.campaign_id}: never named" for c in missed],
            hoverinfo="text",
            name="missed",
        )
    )
    figure.update_yaxes(categoryorder="array", categoryarray=list(reversed(names)))
    figure.update_layout(
        height=120 + 30 * len(names), title="Where each planted campaign was caught (event time)", **_LAYOUT
    )
    return figure
