"""What the report shows, as plain data: alert episodes, signal timelines, campaigns, evaluation.

Kept apart from the figures so that every number on the page can be checked in a test without a
plotting library, and so that the same shaping serves `detector report`, `evaluate` and `demo`.
Everything here is a pure function of the alerts (native alert v1) and the simulator's labels.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from detector.events import Alert

COORDINATED = "coordinated_extraction"
# The key kinds the coordination stage links accounts by (detector/pipeline/coordination.py);
# its alert names the ones its members share in the `coordinated_accounts` explanation.
LINK_KINDS = ("template", "system_prompt", "network", "user_agent", "org")
_SHARE = re.compile(r"\bshare ([a-z_, ]+?)(?:;|$)")


class AlertFileError(ValueError):
    """A line of the alerts file is not a native alert v1 (the message says which line and why)."""


def parse_alerts(lines: Iterable[bytes | str]) -> list[Alert]:
    """Alerts from JSONL lines (as `detector replay --output` writes them); blank lines skipped.

    A bad line stops the report rather than being skipped: a report that silently leaves out
    alerts would show a quieter day than the one that happened.
    """
    alerts = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise AlertFileError(f"line {number} is not JSON ({error})") from error
        try:
            alerts.append(Alert.model_validate(document))
        except ValidationError as error:
            where = ".".join(str(part) for part in error.errors()[0]["loc"]) or "the document"
            raise AlertFileError(
                f"line {number} is not a native alert v1 ({error.error_count()} invalid field(s), first: {where})"
            ) from error
    return alerts


def dedupe(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per (alert_id, revision), in event-time order: a redelivered alert (the topic is
    at-least-once) is the same alert, not a second one."""
    unique: dict[tuple[str, int], Alert] = {}
    for alert in alerts:
        unique.setdefault((alert.alert_id, alert.revision), alert)
    return sorted(unique.values(), key=lambda a: (a.detected_at, a.alert_id, a.revision))


def current(alerts: Iterable[Alert]) -> list[Alert]:
    """The latest revision of each episode: what an analyst's queue shows now."""
    latest: dict[str, Alert] = {}
    for alert in alerts:
        held = latest.get(alert.alert_id)
        if held is None or alert.revision > held.revision:
            latest[alert.alert_id] = alert
    return sorted(latest.values(), key=lambda a: (a.detected_at, a.alert_id))


def named_accounts(alert: Alert) -> list[str]:
    """Every account an alert names: its own and, for a campaign, the related ones."""
    return [alert.account_id, *alert.related_accounts]


# --- per-account timelines ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignalPoint:
    """One signal as one revision of an account's alert reported it."""

    at: datetime
    signal: str
    observed: float
    baseline: float
    explanation: str
    revision: int
    severity: str
    score: float


def account_timelines(alerts: Iterable[Alert]) -> dict[str, list[SignalPoint]]:
    """Per account with alerts of its own behaviour, every signal that fired, in event-time order
    (campaign alerts are shown as campaigns)."""
    timelines: dict[str, list[SignalPoint]] = {}
    for alert in dedupe(alerts):
        if alert.category == COORDINATED:
            continue
        points = timelines.setdefault(alert.account_id, [])
        points.extend(
            SignalPoint(
                at=alert.detected_at,
                signal=reason.signal,
                observed=reason.observed,
                baseline=reason.baseline,
                explanation=reason.explanation,
                revision=alert.revision,
                severity=alert.severity.value,
                score=alert.score,
            )
            for reason in alert.reasons
        )
    return timelines


# --- campaigns ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Member:
    """An account of a campaign and the revision (and event time) at which it was first named."""

    account_id: str
    revision: int
    joined_at: datetime
    anchor: bool = False


@dataclass(frozen=True, slots=True)
class CampaignRevision:
    """One emission of a campaign alert: how big and how severe it was, who was new."""

    revision: int
    detected_at: datetime
    severity: str
    score: float
    size: int
    joined: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Campaign:
    """A coordinated_extraction episode across its revisions."""

    alert_id: str
    anchor: str
    members: tuple[Member, ...]
    revisions: tuple[CampaignRevision, ...]
    linking_keys: tuple[str, ...]
    severity: str


def linking_keys(alert: Alert) -> tuple[str, ...]:
    """The key kinds an alert's reasons say its members share (empty if they name none)."""
    for reason in alert.reasons:
        match = _SHARE.search(reason.explanation)
        if match:
            named = {part.strip() for part in match.group(1).split(",")}
            return tuple(kind for kind in LINK_KINDS if kind in named)
    return ()


def campaigns(alerts: Iterable[Alert]) -> list[Campaign]:
    """Every campaign episode, members in the order they joined (anchor first)."""
    by_id: dict[str, list[Alert]] = {}
    for alert in dedupe(alerts):
        if alert.category == COORDINATED:
            by_id.setdefault(alert.alert_id, []).append(alert)
    found = []
    for alert_id, emissions in by_id.items():
        emissions.sort(key=lambda a: a.revision)
        joined: dict[str, Member] = {}
        revisions = []
        keys: tuple[str, ...] = ()
        for alert in emissions:
            new = []
            for account in named_accounts(alert):
                if account not in joined:
                    joined[account] = Member(
                        account, alert.revision, alert.detected_at, anchor=account == alert.account_id
                    )
                    new.append(account)
            keys = linking_keys(alert) or keys
            revisions.append(
                CampaignRevision(
                    revision=alert.revision,
                    detected_at=alert.detected_at,
                    severity=alert.severity.value,
                    score=alert.score,
                    size=len(named_accounts(alert)),
                    joined=tuple(sorted(new)),
                )
            )
        members = sorted(joined.values(), key=lambda m: (not m.anchor, m.revision, m.account_id))
        latest = emissions[-1]
        found.append(
            Campaign(
                alert_id=alert_id,
                anchor=latest.account_id,
                members=tuple(members),
                revisions=tuple(revisions),
                linking_keys=keys,
                severity=latest.severity.value,
            )
        )
    return sorted(found, key=lambda c: (c.revisions[0].detected_at, c.alert_id))


# --- ground truth and evaluation ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CampaignLabel:
    """One planted attacker account, as the simulator labels it."""

    account_id: str
    campaign_id: str
    style: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Labels:
    """The simulator's ground truth (`detector simulate --labels`): attackers and benign kinds."""

    campaigns: tuple[CampaignLabel, ...]
    benign_kinds: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Labels:
        """Read the labels JSON (``campaigns`` and ``benign_kinds``; other keys are ignored)."""
        return cls(
            campaigns=tuple(
                CampaignLabel(
                    account_id=entry["account_id"],
                    campaign_id=entry["campaign_id"],
                    style=entry["style"],
                    start=datetime.fromisoformat(entry["start"]),
                    end=datetime.fromisoformat(entry["end"]),
                )
                for entry in document.get("campaigns", [])
            ),
            benign_kinds=dict(document.get("benign_kinds", {})),
        )

    def attacker(self, account_id: str) -> CampaignLabel | None:
        return next((label for label in self.campaigns if label.account_id == account_id), None)


@dataclass(frozen=True, slots=True)
class StyleRow:
    style: str
    accounts: int
    detected: int
    recall: float
    median_delay_h: float | None


@dataclass(frozen=True, slots=True)
class BenignRow:
    kind: str
    accounts: int
    alerted: int
    above_low: int
    false_positive_rate: float


@dataclass(frozen=True, slots=True)
class CampaignCatch:
    """Where a planted campaign was caught: the first alert naming any of its accounts."""

    campaign_id: str
    style: str
    accounts: int
    named: int
    start: datetime
    end: datetime
    first_at: datetime | None
    first_alert_id: str | None
    first_revision: int | None
    first_category: str | None
    first_severity: str | None
    named_at: tuple[tuple[str, datetime], ...]

    @property
    def delay_minutes(self) -> float | None:
        return None if self.first_at is None else (self.first_at - self.start).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class Evaluation:
    styles: tuple[StyleRow, ...]
    benign: tuple[BenignRow, ...]
    catches: tuple[CampaignCatch, ...]


_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def evaluate(alerts: Iterable[Alert], labels: Labels) -> Evaluation:
    """Per style recall, per benign kind false positives and the catch of each campaign.

    The same rule as ``detector evaluate``: an account is detected when an alert names it at or
    after the start of its attack (an alert before then is not a detection of the attack), and a
    benign account is a false positive when any alert names it.
    """
    starts = {label.account_id: label.start for label in labels.campaigns}
    first: dict[str, tuple[datetime, Alert]] = {}
    worst: dict[str, int] = {}
    for alert in dedupe(alerts):
        for account in named_accounts(alert):
            start = starts.get(account)
            if start is not None and alert.detected_at < start:
                continue
            first.setdefault(account, (alert.detected_at, alert))
            worst[account] = max(worst.get(account, 0), _RANK[alert.severity.value])
    styles = []
    for style in sorted({label.style for label in labels.campaigns}):
        members = [label for label in labels.campaigns if label.style == style]
        delays = [
            (first[m.account_id][0] - m.start).total_seconds() / 3600
            for m in members
            if m.account_id in first
        ]
        styles.append(
            StyleRow(
                style=style,
                accounts=len(members),
                detected=len(delays),
                recall=len(delays) / len(members),
                median_delay_h=statistics.median(delays) if delays else None,
            )
        )
    benign = []
    for kind in sorted(set(labels.benign_kinds.values())):
        accounts = [a for a, k in labels.benign_kinds.items() if k == kind and a not in starts]
        alerted = [a for a in accounts if a in first]
        benign.append(
            BenignRow(
                kind=kind,
                accounts=len(accounts),
                alerted=len(alerted),
                above_low=sum(worst[a] > 1 for a in alerted),
                false_positive_rate=len(alerted) / len(accounts) if accounts else 0.0,
            )
        )
    catches = []
    for campaign_id in sorted({label.campaign_id for label in labels.campaigns}):
        members = [label for label in labels.campaigns if label.campaign_id == campaign_id]
        named = sorted(
            ((m.account_id, first[m.account_id][0]) for m in members if m.account_id in first),
            key=lambda pair: (pair[1], pair[0]),
        )
        earliest = first[named[0][0]][1] if named else None
        catches.append(
            CampaignCatch(
                campaign_id=campaign_id,
                style=members[0].style,
                accounts=len(members),
                named=len(named),
                start=min(m.start for m in members),
                end=max(m.end for m in members),
                first_at=named[0][1] if named else None,
                first_alert_id=earliest.alert_id if earliest else None,
                first_revision=earliest.revision if earliest else None,
                first_category=earliest.category if earliest else None,
                first_severity=earliest.severity.value if earliest else None,
                named_at=tuple(named),
            )
        )
    return Evaluation(styles=tuple(styles), benign=tuple(benign), catches=tuple(catches))


def method_summaries(summaries: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """The per-method summaries of ``detector evaluate`` that carry a method name (others are not
    the evaluation's and are left out rather than shown half)."""
    return [s for s in summaries or () if isinstance(s.get("method"), str)]
