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
    attacker_variant: dict[str, str] = field(default_factory=dict)
    attacker_evasion: dict[str, str | None] = field(default_factory=dict)


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
    (outcome,) = run_conditions(scenario, seed, [scenario.include_prompt_text], settings)
    return outcome


def run_conditions(
    scenario: Scenario, seed: int, conditions: list[bool], settings: Settings | None = None
) -> list[RunOutcome]:
    """One simulation fed to one detector per condition (with / without prompt text), in one pass.

    The world is generated once with text; the no-text detector gets each event with its prompt
    removed, which is exactly what the simulator writes without text (only ``prompt`` differs).
    The baselines see no text, so they run once and their result is shared.
    """
    simulation = generate(scenario.model_copy(update={"include_prompt_text": True}), seed=seed)
    truth = Truth(
        attacker_start={label["account_id"]: _epoch(label["start"]) for label in simulation.labels},
        attacker_style={label["account_id"]: label["style"] for label in simulation.labels},
        attacker_campaign={label["account_id"]: label["campaign_id"] for label in simulation.labels},
        benign_kind=dict(simulation.benign_kinds),
        attacker_variant={label["account_id"]: label.get("variant", "plain") for label in simulation.labels},
        attacker_evasion={label["account_id"]: label.get("evasion") for label in simulation.labels},
    )
    detectors = [Detector(settings or Settings(), clock=lambda: _FIXED_NOW) for _ in conditions]
    volume = _VolumeRule()
    hst = _HstRates(seed)
    alerts: list[list[Alert]] = [[] for _ in conditions]
    since_start: dict[str, int] = defaultdict(int)
    first_alert: list[dict[str, int]] = [{} for _ in conditions]
    accounts: set[str] = set()
    events = 0
    invalid = [0 for _ in conditions]
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
        for k, (with_text, detector) in enumerate(zip(conditions, detectors, strict=True)):
            sent = document if with_text else {**document, "prompt": None}
            result = detector.process_one(orjson.dumps(sent))
            invalid[k] += len(result.dead_letters)
            for alert in result.alerts:
                alerts[k].append(alert)
                for named in (alert.account_id, *alert.related_accounts):
                    if alert.detected_at.timestamp() >= truth.attacker_start.get(named, -math.inf):
                        first_alert[k].setdefault(named, since_start.get(named, 0))
    baselines = [volume.result(truth), hst.result]
    return [
        RunOutcome(
            truth=truth,
            methods=[_detector_result(alerts[k], truth, first_alert[k]), *baselines],
            accounts=accounts,
            events=events,
            invalid=invalid[k],
        )
        for k in range(len(conditions))
    ]


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


# --- the split evaluation (issue 11) ---------------------------------------------------------------
#
# Every figure below is computed over the accounts of one or more runs pooled together (account
# ids prefixed with the run), so several seeds give one figure with more accounts behind it, not
# a mean of small ratios.

EVASION_VARIANT = "evasion_base"
"""Campaigns of the evasion group: the same bulk campaign sent plain and with each evasion."""
QUERY_SET_STYLE = "query_set"
QUERY_SET_BENIGN_KIND = "query_set_benign"
STYLE_MEAN_EXCLUDES = frozenset({QUERY_SET_STYLE})
"""Styles reported on their own: the query sets by balanced accuracy per mix, not in the mean."""
MIX_ORDER = ("pure", "mix50", "mix25", "mix10", "mix5")


@dataclass
class Pooled:
    """Accounts of several runs under one key space, with what each method found."""

    attackers: dict[str, tuple[str, str, str | None, float]] = field(default_factory=dict)
    """key -> (style, variant, evasion, start)."""
    benign: dict[str, str] = field(default_factory=dict)
    """key -> benign kind."""
    detections: dict[str, Detection] = field(default_factory=dict)


def pool(outcomes: list[RunOutcome], method: str) -> Pooled:
    """Pool the accounts of ``outcomes`` and the detections of the method called ``method``."""
    out = Pooled()
    for k, outcome in enumerate(outcomes):
        truth = outcome.truth
        found = next(m for m in outcome.methods if m.name == method)
        for account in outcome.accounts:
            key = f"{k}:{account}"
            if account in truth.attacker_start:
                out.attackers[key] = (
                    truth.attacker_style[account],
                    truth.attacker_variant.get(account, "plain"),
                    truth.attacker_evasion.get(account),
                    truth.attacker_start[account],
                )
            else:
                out.benign[key] = truth.benign_kind.get(account, "benign")
            if account in found.detections:
                out.detections[key] = found.detections[account]
    return out


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _median_hours(values: list[float]) -> float | None:
    return statistics.median(values) / 3600 if values else None


def split_metrics(p: Pooled) -> dict[str, Any]:
    """The goals' figures on pooled accounts (see docs/evaluation.md for each definition).

    * recall per style (the evasion group and the query sets apart), their mean and minimum;
    * benign FPR overall and per kind: accounts alerted / accounts;
    * hydra accounts named within 6 h of their own start;
    * median delay from start to first alert, overall and for low-and-slow;
    * recall of each evasion next to the same campaign sent plain;
    * query sets: per mix, balanced accuracy of "alerted" against benign 100-query windows.
    """
    detected = p.detections
    styles: dict[str, dict[str, Any]] = {}
    variants: dict[str, dict[str, Any]] = {}
    evasion: dict[str, list[int]] = {}
    mixes: dict[str, list[int]] = {}
    delays: list[float] = []
    slow_delays: list[float] = []
    hydra = [0, 0]
    for key, (style, variant, evaded, start) in p.attackers.items():
        hit = key in detected
        if variant == EVASION_VARIANT:
            entry = evasion.setdefault(evaded or "plain", [0, 0])
            entry[0] += hit
            entry[1] += 1
            continue
        if style == QUERY_SET_STYLE:
            mix = variant.rsplit("_", 1)[-1]
            entry = mixes.setdefault(mix, [0, 0])
            entry[0] += hit
            entry[1] += 1
        row = styles.setdefault(style, {"accounts": 0, "detected": 0})
        row["accounts"] += 1
        row["detected"] += hit
        vrow = variants.setdefault(f"{style}/{variant}", {"accounts": 0, "detected": 0})
        vrow["accounts"] += 1
        vrow["detected"] += hit
        if hit:
            delay = max(0.0, detected[key].first_at - start)
            delays.append(delay)
            if style == "low_and_slow":
                slow_delays.append(delay)
        if style == "hydra":
            hydra[1] += 1
            hydra[0] += hit and detected[key].first_at - start <= NAMED_WITHIN_SECONDS
    for table in (styles, variants):
        for row in table.values():
            row["recall"] = row["detected"] / row["accounts"]
    counted = {s: r["recall"] for s, r in styles.items() if s not in STYLE_MEAN_EXCLUDES}
    worst = min(counted, key=lambda s: (counted[s], s)) if counted else None
    kinds: dict[str, dict[str, Any]] = {}
    for key, kind in p.benign.items():
        row = kinds.setdefault(kind, {"accounts": 0, "alerted": 0})
        row["accounts"] += 1
        row["alerted"] += key in detected
    for row in kinds.values():
        row["fpr"] = row["alerted"] / row["accounts"]
    alerted_benign = sum(r["alerted"] for r in kinds.values())
    qs_benign = kinds.get(QUERY_SET_BENIGN_KIND, {"accounts": 0, "alerted": 0})
    qs_fpr = _ratio(qs_benign["alerted"], qs_benign["accounts"])
    query_sets: dict[str, dict[str, Any]] = {}
    for mix in sorted(mixes, key=lambda m: MIX_ORDER.index(m) if m in MIX_ORDER else 99):
        hits, total = mixes[mix]
        tpr = hits / total
        query_sets[mix] = {
            "accounts": total,
            "recall": tpr,
            "balanced_accuracy": None if qs_fpr is None else (tpr + 1 - qs_fpr) / 2,
        }
    plain = evasion.get("plain")
    return {
        "recall_mean_over_styles": statistics.mean(counted.values()) if counted else None,
        "min_style": worst,
        "min_style_recall": counted[worst] if worst else None,
        "styles": dict(sorted(styles.items())),
        "variants": dict(sorted(variants.items())),
        "benign_accounts": len(p.benign),
        "false_positives": alerted_benign,
        "false_positive_rate": _ratio(alerted_benign, len(p.benign)),
        "benign_kinds": dict(sorted(kinds.items())),
        "hydra_named_within_6h": _ratio(hydra[0], hydra[1]),
        "median_delay_h": _median_hours(delays),
        "median_delay_low_and_slow_h": _median_hours(slow_delays),
        "evasion": {
            name: {
                "accounts": total,
                "recall": hits / total,
                "vs_plain": None if plain is None else hits / total - plain[0] / plain[1],
            }
            for name, (hits, total) in sorted(evasion.items(), key=lambda kv: (kv[0] != "plain", kv[0]))
        },
        "query_sets": query_sets,
        "query_set_benign_fpr": qs_fpr,
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_evaluation(results: dict[str, dict[str, Any]], events: dict[str, int]) -> str:
    """A compact side-by-side report: one column per split x condition, detector first.

    ``results[column][method]`` is a ``split_metrics`` dict; ``events[column]`` the events fed.
    """
    columns = list(results)
    det = {c: results[c]["detector"] for c in columns}
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]

    def row(name: str, cells: list[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("events", [f"{events[c]:,}" for c in columns])
    row("recall, mean over styles", [_fmt(det[c]["recall_mean_over_styles"]) for c in columns])
    row("min style", [f"{det[c]['min_style']} {_fmt(det[c]['min_style_recall'])}" for c in columns])
    row(
        "benign FPR (FP / accounts)",
        [
            f"{_fmt(det[c]['false_positive_rate'], 4)} ({det[c]['false_positives']}/{det[c]['benign_accounts']})"
            for c in columns
        ],
    )
    row("hydra named ≤ 6 h", [_fmt(det[c]["hydra_named_within_6h"]) for c in columns])
    row(
        "median delay h (low-and-slow)",
        [
            f"{_fmt(det[c]['median_delay_h'])} ({_fmt(det[c]['median_delay_low_and_slow_h'])})"
            for c in columns
        ],
    )
    for method in [m for m in results[columns[0]] if m != "detector"]:
        row(
            f"{method}: mean recall / FPR",
            [
                f"{_fmt(results[c][method]['recall_mean_over_styles'])} / "
                f"{_fmt(results[c][method]['false_positive_rate'], 4)}"
                for c in columns
            ],
        )
    lines += [
        "",
        "| style / variant (detector recall, accounts) | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    names = sorted({v for c in columns for v in det[c]["variants"]})
    for style in sorted({s for c in columns for s in det[c]["styles"]}):
        row(
            f"**{style}**",
            [
                f"{_fmt(det[c]['styles'][style]['recall'])} ({det[c]['styles'][style]['accounts']})"
                if style in det[c]["styles"]
                else "-"
                for c in columns
            ],
        )
        if style == QUERY_SET_STYLE:
            continue  # by mix in its own table below
        for variant in (v for v in names if v.startswith(f"{style}/")):
            row(
                f"  {variant.split('/', 1)[1]}",
                [
                    f"{_fmt(det[c]['variants'][variant]['recall'])} ({det[c]['variants'][variant]['accounts']})"
                    if variant in det[c]["variants"]
                    else "-"
                    for c in columns
                ],
            )
    lines += [
        "",
        "| evasion (recall, minus plain) | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in sorted({e for c in columns for e in det[c]["evasion"]}, key=lambda e: (e != "plain", e)):
        row(
            name,
            [
                f"{_fmt(det[c]['evasion'][name]['recall'])} ({_fmt(det[c]['evasion'][name]['vs_plain'])})"
                if name in det[c]["evasion"]
                else "-"
                for c in columns
            ],
        )
    lines += [
        "",
        "| query sets (recall / balanced accuracy) | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for mix in MIX_ORDER:
        row(
            mix,
            [
                f"{_fmt(det[c]['query_sets'][mix]['recall'])} / {_fmt(det[c]['query_sets'][mix]['balanced_accuracy'])}"
                if mix in det[c]["query_sets"]
                else "-"
                for c in columns
            ],
        )
    row("benign 100-query windows: FPR", [_fmt(det[c]["query_set_benign_fpr"]) for c in columns])
    lines += [
        "",
        "| benign kind (detector alerted / accounts) | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for kind in sorted({k for c in columns for k in det[c]["benign_kinds"]}):
        row(
            kind,
            [
                f"{det[c]['benign_kinds'][kind]['alerted']}/{det[c]['benign_kinds'][kind]['accounts']}"
                if kind in det[c]["benign_kinds"]
                else "-"
                for c in columns
            ],
        )
    return "\n".join(lines) + "\n"


def evaluate_splits(
    splits: list[str],
    conditions: list[bool],
    seeds: list[int],
    *,
    hours: float,
    benign_accounts: int,
    settings: Settings | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Run every split x seed once, every condition on it, and pool the seeds: by column."""
    from detector.simulate.variants import evaluation_scenario

    results: dict[str, dict[str, Any]] = {}
    events: dict[str, int] = {}
    for split in splits:
        runs: list[list[RunOutcome]] = []
        for seed in seeds:
            scenario = evaluation_scenario(split, seed, hours=hours, benign_accounts=benign_accounts)  # type: ignore[arg-type]
            runs.append(run_conditions(scenario, seed, conditions, settings))
        for k, with_text in enumerate(conditions):
            column = f"{split} / {'text' if with_text else 'no-text'}"
            outcomes = [run[k] for run in runs]
            events[column] = sum(o.events for o in outcomes)
            results[column] = {
                method.name: split_metrics(pool(outcomes, method.name)) for method in outcomes[0].methods
            }
    return results, events
