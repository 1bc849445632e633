"""`detector evaluate --feedback`: what analysts' verdicts change, measured on the simulator.

The same simulated traffic is replayed twice through the production ``Detector``:

* **no feedback**: as ``detector evaluate`` runs it;
* **feedback**: an analyst looks at a share (``--feedback SHARE``, default half) of the account
  alerts raised in the *feedback period* and, ``ANALYST_DELAY_SECONDS`` of event time later,
  publishes the truthful verdict — ``confirmed`` for an account that is attacking,
  ``false_positive`` for one that is not. The verdicts go through the verdicts-topic decoder
  (``Detector.process_one`` with the verdicts topic as the source), as in production.

The feedback period is the first 24 h of event time, or the first half of a shorter run; the
figures that show the effect are those of the period *after* it: benign accounts alerted (FPR)
and attacking accounts named by an open alert (recall). Which alerts the analyst picks is a
hash of the alert id, so runs are deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from detector.events import Alert
from detector.pipeline.step import Detector, SourceRef
from detector.settings import Settings
from detector.simulate import Simulation, default_scenario, generate

ANALYST_DELAY_SECONDS = 3600.0
_FIXED_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def picked(alert_id: str, share: float) -> bool:
    """Deterministic choice of the alerts an analyst reviews."""
    digest = int.from_bytes(hashlib.sha256(alert_id.encode()).digest()[:4], "big")
    return digest / 2**32 < share


@dataclass
class FeedbackRun:
    """One replay's alerts and the verdicts that were fed back."""

    label: str
    alerts: list[Alert] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=lambda: {"confirmed": 0, "false_positive": 0})
    feedback_terms: int = 0


def replay(
    simulation: Simulation,
    settings: Settings,
    share: float,
    feedback_until: float,
    attacker_start: dict[str, float],
) -> FeedbackRun:
    """Replay the simulation; with ``share`` > 0, feed back verdicts on alerts before ``feedback_until``."""
    detector = Detector(settings, clock=lambda: _FIXED_NOW)
    run = FeedbackRun("feedback" if share > 0 else "no feedback")
    pending: list[tuple[float, int, bytes, bytes]] = []  # (due, order, key, verdict)
    reviewed: set[str] = set()
    ref = SourceRef(topic=settings.verdicts_topic)
    for document in simulation.events():
        at = _epoch(document["timestamp"])
        while pending and pending[0][0] <= at:
            _, _, key, raw = heapq.heappop(pending)
            result = detector.process_one(raw, ref._replace(key=key))
            assert not result.dead_letters, result.dead_letters
            run.alerts.extend(result.alerts)
        result = detector.process_one(orjson.dumps(document))
        for alert in result.alerts:
            run.alerts.append(alert)
            run.feedback_terms += any(r.signal == "analyst_feedback" for r in alert.reasons)
            if (
                share <= 0
                or alert.status != "open"
                or alert.category != "suspected_extraction"
                or alert.alert_id in reviewed
                or alert.detected_at.timestamp() >= feedback_until
                or not picked(alert.alert_id, share)
            ):
                continue
            reviewed.add(alert.alert_id)
            attacking = at >= attacker_start.get(alert.account_id, math.inf)
            kind = "confirmed" if attacking else "false_positive"
            run.verdicts[kind] += 1
            raw = orjson.dumps(
                {
                    "schema_version": 1,
                    "account_id": alert.account_id,
                    "alert_id": alert.alert_id,
                    "verdict": kind,
                    "decided_at": int((at + ANALYST_DELAY_SECONDS) * 1000),
                }
            )
            heapq.heappush(
                pending, (at + ANALYST_DELAY_SECONDS, len(reviewed), alert.account_id.encode(), raw)
            )
    return run


def measure(
    run: FeedbackRun, attacker_start: dict[str, float], accounts: set[str], since: float
) -> dict[str, Any]:
    """FPR and recall over the alerts detected at or after ``since`` (open revisions only)."""
    attackers = set(attacker_start)
    benign = accounts - attackers
    flagged_benign: set[str] = set()
    caught: set[str] = set()
    for alert in run.alerts:
        if alert.status != "open" or alert.detected_at.timestamp() < since:
            continue
        at = alert.detected_at.timestamp()
        for account in (alert.account_id, *alert.related_accounts):
            if account in attackers:
                if at >= attacker_start[account]:
                    caught.add(account)
            else:
                flagged_benign.add(account)
    closed = sum(1 for a in run.alerts if a.status == "closed")
    return {
        "run": run.label,
        "fpr": len(flagged_benign) / len(benign) if benign else 0.0,
        "benign_alerted": len(flagged_benign),
        "recall": len(caught) / len(attackers) if attackers else 0.0,
        "attackers_caught": len(caught),
        "attackers": len(attackers),
        "open_revisions": sum(
            1 for a in run.alerts if a.status == "open" and a.detected_at.timestamp() >= since
        ),
        "closing_revisions": closed,
        "verdicts_fed": dict(run.verdicts),
        "alerts_with_feedback_term": run.feedback_terms,
    }


def evaluate_feedback(
    settings: Settings, *, hours: float, accounts: int, seed: int, share: float
) -> dict[str, Any]:
    """Both replays of one simulation and their figures, for the period after the feedback."""
    scenario = default_scenario(hours=hours, benign_accounts=accounts)
    simulation = generate(scenario, seed=seed)
    attacker_start = {label["account_id"]: _epoch(label["start"]) for label in simulation.labels}
    names = {*simulation.benign_kinds, *attacker_start}
    start = scenario.start.timestamp()
    feedback_until = start + min(24 * 3600.0, hours * 3600.0 / 2)
    results = []
    for fed in (0.0, share):
        run = replay(simulation, settings, fed, feedback_until, attacker_start)
        results.append(measure(run, attacker_start, names, feedback_until))
    return {
        "hours": hours,
        "accounts": accounts,
        "seed": seed,
        "share": share,
        "feedback_period_hours": (feedback_until - start) / 3600.0,
        "after_feedback_period": results,
    }


def format_feedback_report(report: dict[str, Any]) -> str:
    lines = [
        f"analyst feedback: verdicts on {report['share']:.0%} of the account alerts of the first "
        f"{report['feedback_period_hours']:g} h (seed {report['seed']}, {report['hours']:g} h, "
        f"{report['accounts']} ordinary accounts); figures for the hours after",
        f"{'run':<12} {'FPR':>7} {'benign':>7} {'recall':>7} {'caught':>9} {'open':>6} {'closed':>7}  verdicts fed",
    ]
    for row in report["after_feedback_period"]:
        fed = row["verdicts_fed"]
        lines.append(
            f"{row['run']:<12} {row['fpr']:>7.2%} {row['benign_alerted']:>7} {row['recall']:>7.2%} "
            f"{row['attackers_caught']:>4}/{row['attackers']:<4} {row['open_revisions']:>6} "
            f"{row['closing_revisions']:>7}  {fed['confirmed']} confirmed, {fed['false_positive']} false positive"
        )
    return "\n".join(lines)


def run_feedback_evaluation(settings: Settings, args: argparse.Namespace) -> int:
    """The ``--feedback`` branch of ``detector evaluate``."""
    report = evaluate_feedback(
        settings, hours=args.hours, accounts=args.accounts, seed=args.seed, share=float(args.feedback)
    )
    print(format_feedback_report(report))
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 0
