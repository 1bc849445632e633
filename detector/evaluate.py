"""`detector evaluate`: simulate → replay → score, next to two simple baselines.

The detector under test is the production ``Detector.process_one`` fed the encoded events, as
``detector replay`` feeds it. The ground truth comes only from the simulator's labels. Baselines
run on the same events in the same pass:

* ``volume_rule``: alert an account in the first hour its token volume exceeds the p99.9 of all
  account-hours (the threshold is computed over the whole run, which flatters the baseline);
* ``hst_rates``: one river ``HalfSpaceTrees`` per account over its own 10-minute call and token
  counts, alerting when the anomaly score reaches ``HST_BASELINE_THRESHOLD``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from river import anomaly

from detector.events import Alert
from detector.pipeline.step import Detector
from detector.settings import Settings
from detector.simulate import Scenario, generate

NAMED_WITHIN_SECONDS = 6 * 3600.0
RECALL_WITHIN_SECONDS = 12 * 3600.0  # the no-text goal counts detections within 12 h of a start
HST_BASELINE_THRESHOLD = 0.8
_HST_BUCKET_SECONDS = 600.0
_FIXED_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Detection:
    """When and how strongly one account was first flagged by one method."""

    first_at: float
    first_severity_rank: int
    max_severity_rank: int
    events_until: int


@dataclass
class MethodResult:
    """Detections of one method (the detector or a baseline) on one run."""

    name: str
    detections: dict[str, Detection] = field(default_factory=dict)


@dataclass
class Truth:
    """The simulator's labels, indexed for scoring."""

    attacker_start: dict[str, float]
    attacker_style: dict[str, str]
    attacker_campaign: dict[str, str]
    benign_kind: dict[str, str]


_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class _VolumeRule:
    def __init__(self) -> None:
        self.hourly: dict[tuple[str, int], int] = defaultdict(int)
        self.events: dict[tuple[str, int], int] = defaultdict(int)

    def observe(self, account: str, at: float, tokens: int) -> None:
        key = (account, int(at // 3600))
        self.hourly[key] += tokens
        self.events[key] += 1

    def result(self, truth: Truth) -> MethodResult:
        volumes = sorted(self.hourly.values())
        threshold = volumes[min(len(volumes) - 1, int(0.999 * len(volumes)))] if volumes else 0
        result = MethodResult("volume_rule")
        for (account, hour), volume in sorted(self.hourly.items(), key=lambda kv: kv[0][1]):
            if volume > threshold and account not in result.detections:
                start = truth.attacker_start.get(account, -math.inf)
                if (hour + 1) * 3600 < start:
                    continue  # flagged only before the attack: counted as benign behaviour below
                result.detections[account] = Detection(
                    (hour + 1) * 3600.0, 1, 1, self.events[(account, hour)]
                )
        return result


class _HstRates:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.models: dict[str, anomaly.HalfSpaceTrees] = {}
        self.bucket: dict[str, tuple[int, int, int]] = {}
        self.result = MethodResult("hst_rates")

    def observe(self, account: str, at: float, tokens: int, events_since_start: int, start: float) -> None:
        index = int(at // _HST_BUCKET_SECONDS)
        current = self.bucket.get(account)
        if current is None:
            self.bucket[account] = (index, 1, tokens)
            return
        bucket, calls, bucket_tokens = current
        if index == bucket:
            self.bucket[account] = (bucket, calls + 1, bucket_tokens + tokens)
            return
        self.bucket[account] = (index, 1, tokens)
        model = self.models.get(account)
        if model is None:
            model = self.models[account] = anomaly.HalfSpaceTrees(
                n_trees=5, height=6, window_size=12, seed=self.seed
            )
        x = {
            "calls": min(1.0, math.log1p(calls) / math.log1p(10_000)),
            "tokens": min(1.0, math.log1p(bucket_tokens) / math.log1p(1e8)),
        }
        score = float(model.score_one(x))  # type: ignore[no-untyped-call]
        model.learn_one(x)  # type: ignore[no-untyped-call]
        if score >= HST_BASELINE_THRESHOLD and at >= start and account not in self.result.detections:
            self.result.detections[account] = Detection(at, 1, 1, events_since_start)


def _detector_result(alerts: list[Alert], truth: Truth, events_until: dict[str, int]) -> MethodResult:
    result = MethodResult("detector")
    for alert in alerts:
        named = [alert.account_id, *alert.related_accounts]
        at = alert.detected_at.timestamp()
        rank = _RANK[alert.severity.value]
        for account in named:
            if at < truth.attacker_start.get(account, -math.inf):
                continue  # an alert before the attack started is not a detection of it
            found = result.detections.get(account)
            if found is None:
                result.detections[account] = Detection(at, rank, rank, events_until.get(account, 0))
            else:
                found.max_severity_rank = max(found.max_severity_rank, rank)
    return result


@dataclass
class RunOutcome:
    """Everything measured on one simulated run."""

    truth: Truth
    methods: list[MethodResult]
    accounts: set[str]
    events: int
    invalid: int


def run_once(scenario: Scenario, seed: int, settings: Settings | None = None) -> RunOutcome:
    """Simulate, replay through the production pipeline and the baselines, in one pass."""
    simulation = generate(scenario, seed=seed)
    truth = Truth(
        attacker_start={label["account_id"]: _epoch(label["start"]) for label in simulation.labels},
        attacker_style={label["account_id"]: label["style"] for label in simulation.labels},
        attacker_campaign={label["account_id"]: label["campaign_id"] for label in simulation.labels},
        benign_kind=dict(simulation.benign_kinds),
    )
    detector = Detector(settings or Settings(), clock=lambda: _FIXED_NOW)
    volume = _VolumeRule()
    hst = _HstRates(seed)
    alerts: list[Alert] = []
    since_start: dict[str, int] = defaultdict(int)
    events_at_first_alert: dict[str, int] = {}
    accounts: set[str] = set()
    events = invalid = 0
    for document in simulation.events():
        events += 1
        account = document["account_id"]
        accounts.add(account)
        at = _epoch(document["timestamp"])
        start = truth.attacker_start.get(account)
        if start is not None and at >= start:
            since_start[account] += 1
        tokens = int(document["prompt_tokens"]) + int(document["completion_tokens"])
        volume.observe(account, at, tokens)
        hst.observe(account, at, tokens, since_start[account], -math.inf if start is None else start)
        result = detector.process_one(orjson.dumps(document))
        invalid += len(result.dead_letters)
        for alert in result.alerts:
            alerts.append(alert)
            for named in (alert.account_id, *alert.related_accounts):
                if alert.detected_at.timestamp() >= truth.attacker_start.get(named, -math.inf):
                    events_at_first_alert.setdefault(named, since_start.get(named, 0))
    methods = [_detector_result(alerts, truth, events_at_first_alert), volume.result(truth), hst.result]
    return RunOutcome(truth=truth, methods=methods, accounts=accounts, events=events, invalid=invalid)


def summarise(outcome: RunOutcome, method: MethodResult) -> dict[str, Any]:
    """Per attack style and per hard-negative kind: the figures the issue asks for."""
    truth = outcome.truth
    attackers = set(truth.attacker_start)
    benign = outcome.accounts - attackers
    detected = set(method.detections)
    styles: dict[str, dict[str, Any]] = {}
    for style in sorted(set(truth.attacker_style.values())):
        members = [a for a in attackers if truth.attacker_style[a] == style and a in outcome.accounts]
        hits = [a for a in members if a in detected]
        delays = [method.detections[a].first_at - truth.attacker_start[a] for a in hits]
        events_until = [method.detections[a].events_until for a in hits]
        in_time = [d for d in delays if d <= RECALL_WITHIN_SECONDS]
        styles[style] = {
            "accounts": len(members),
            "recall": len(hits) / len(members) if members else 0.0,
            "recall_within_12h": len(in_time) / len(members) if members else 0.0,
            "median_delay_h": statistics.median(delays) / 3600 if delays else None,
            "median_events_to_alert": statistics.median(events_until) if events_until else None,
        }
    campaigns: dict[str, dict[str, Any]] = {}
    for campaign in sorted(set(truth.attacker_campaign.values())):
        members = [a for a in attackers if truth.attacker_campaign[a] == campaign and a in outcome.accounts]
        named = [
            a
            for a in members
            if a in detected
            and method.detections[a].first_at - truth.attacker_start[a] <= NAMED_WITHIN_SECONDS
        ]
        campaigns[campaign] = {
            "style": truth.attacker_style[members[0]] if members else "?",
            "accounts": len(members),
            "detected": bool(set(members) & detected),
            "named_within_6h": len(named) / len(members) if members else 0.0,
        }
    kinds: dict[str, dict[str, Any]] = {}
    for account in benign:
        kind = truth.benign_kind.get(account, "benign")
        entry = kinds.setdefault(kind, {"accounts": 0, "alerted": 0, "above_low": 0})
        entry["accounts"] += 1
        if account in detected:
            entry["alerted"] += 1
            entry["above_low"] += method.detections[account].max_severity_rank > 1
    true_positives = len(detected & attackers)
    false_positives = len(detected & benign)
    recalls = [s["recall"] for s in styles.values()]
    recalls_in_time = [s["recall_within_12h"] for s in styles.values()]
    return {
        "method": method.name,
        "precision": true_positives / (true_positives + false_positives) if detected else 0.0,
        "recall_accounts": true_positives / len(attackers & outcome.accounts) if attackers else 0.0,
        "recall_mean_over_styles": statistics.mean(recalls) if recalls else 0.0,
        "recall_mean_over_styles_within_12h": statistics.mean(recalls_in_time) if recalls_in_time else 0.0,
        "false_positive_rate": false_positives / len(benign) if benign else 0.0,
        "false_positives": false_positives,
        "benign_accounts": len(benign),
        "styles": styles,
        "campaigns": campaigns,
        "hard_negatives": kinds,
    }


def _per_method_table(
    lead: list[str],
    method_header: str,
    summaries: list[dict[str, Any]],
    rows: list[tuple[list[str], list[str]]],
) -> list[str]:
    """One markdown table: leading columns, then one column per method (detector, baselines)."""
    header = (
        "| "
        + " | ".join(lead)
        + " | "
        + " | ".join(f"{s['method']} {method_header}" for s in summaries)
        + " |"
    )
    lines = ["", header, "|" + "---|" * (len(lead) + len(summaries))]
    lines += ["| " + " | ".join(leading + cells) + " |" for leading, cells in rows]
    return lines


def _style_cell(row: dict[str, Any]) -> str:
    delay = "-" if row["median_delay_h"] is None else f"{row['median_delay_h']:.2f}"
    events = "-" if row["median_events_to_alert"] is None else f"{row['median_events_to_alert']:.0f}"
    return f"{row['recall']:.2f} / {delay} / {events}"


def format_report(condition: str, outcome: RunOutcome, summaries: list[dict[str, Any]]) -> str:
    """Plain-text tables for the terminal and for docs/benchmarks.md."""
    lines = [
        f"### {condition}: {outcome.events:,} events, {len(outcome.accounts):,} accounts, "
        f"{len(outcome.truth.attacker_start)} attacker accounts",
        "",
        "| method | precision | recall (accounts) | recall (mean over styles) "
        "| recall (mean over styles, ≤ 12 h) | FPR (benign) | FP |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['method']} | {s['precision']:.3f} | {s['recall_accounts']:.3f} | "
            f"{s['recall_mean_over_styles']:.3f} | {s['recall_mean_over_styles_within_12h']:.3f} | "
            f"{s['false_positive_rate']:.4f} | "
            f"{s['false_positives']}/{s['benign_accounts']} |"
        )
    first = summaries[0]
    lines += _per_method_table(
        ["style", "accounts"],
        "recall / median delay h / median events",
        summaries,
        [
            ([style, str(row["accounts"])], [_style_cell(s["styles"][style]) for s in summaries])
            for style, row in first["styles"].items()
        ],
    )
    lines += _per_method_table(
        ["campaign", "style", "accounts"],
        "detected / named ≤ 6 h",
        summaries,
        [
            (
                [campaign, row["style"], str(row["accounts"])],
                [
                    f"{'yes' if s['campaigns'][campaign]['detected'] else 'no'} / "
                    f"{s['campaigns'][campaign]['named_within_6h']:.2f}"
                    for s in summaries
                ],
            )
            for campaign, row in first["campaigns"].items()
        ],
    )
    quiet = {"alerted": 0, "above_low": 0}
    lines += _per_method_table(
        ["benign kind", "accounts"],
        "alerted / above low",
        summaries,
        [
            (
                [kind, str(first["hard_negatives"][kind]["accounts"])],
                [
                    f"{s['hard_negatives'].get(kind, quiet)['alerted']} / {s['hard_negatives'].get(kind, quiet)['above_low']}"
                    for s in summaries
                ],
            )
            for kind in sorted(first["hard_negatives"])
        ],
    )
    return "\n".join(lines) + "\n"
