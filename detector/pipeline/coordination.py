"""Cross-account coordination: many small accounts that add up to one campaign ("hydra").

The per-account stage publishes a compact ``Fingerprint`` only for accounts whose own evidence
is already suspicious (so the stream is small): hashes of its prompt templates, network,
user agent, system prompt and organisation, when it became suspicious, and how suspicious.
This stage links two suspicious accounts when the keys they share weigh ``MIN_LINK_WEIGHT``
(a system prompt, two prompt templates, or all three weaker keys), grows clusters incrementally
(a new account joins the campaign of any linked member),
and scores a campaign on its members' evidence, its size and how synchronised its onset is.
A campaign alert names its members in ``related_accounts``; as the campaign grows the same
``alert_id`` is re-emitted with a higher ``revision`` rather than one alert per account.

A campaign's alert episode ends (``_close_quiet``, ``apply_verdict``) with a closing revision of
the same ``alert_id`` (``status: closed``): when none of its members has sent a fingerprint for
``close_after_seconds`` of event time (``subsided``, or ``confirmed_resolved`` after a
confirmation), or when an analyst calls it a false positive or allowlists it. Its members then
leave the stage, and the campaign is kept as a small closed record (no members) for a while, so
that its id is never reused: members that come back found a *new* campaign under a new
``alert_id``, starting at revision 1, as any suspicious accounts would. A verdict never silences
the members: their fingerprints keep coming and are linked as before.

Scale-out: in a consumer group each worker sees only its partitions' accounts, so fingerprints
go through an internal topic and this stage consumes it (Kafka's repartition pattern). In
``replay`` and ``demo`` both stages run in one process over this same code.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal, NamedTuple, cast, get_args

import orjson

from detector.events import Alert, AlertWindow, Reason, Severity
from detector.pipeline.decide import AlertPolicy
from detector.settings import Settings
from detector.verdicts import VerdictKind

# Link strength of a shared key: the same hidden system prompt is specific evidence of one
# operator; a network, user agent or organisation alone is common. A prompt template (the hash
# of a prompt's head or tail) is in between: independent people open or close with the same
# stock phrase ("Let's think step by step."), so one shared phrase links nobody, two phrases
# (a whole wrapper, or two of one playbook's wrappers) or a phrase on the same network do.
# A request profile (endpoint, model, sampling parameters; only the rare ones are sent) weighs
# like a network; a cohort (org-less accounts with one rare profile whose evidence began in the
# same hours) like a system prompt: it links a hydra spread over networks that share nothing.
KEY_WEIGHTS: dict[str, float] = {
    "template": 1.5,
    "system_prompt": 3,
    "network": 1,
    "user_agent": 1,
    "org": 1,
    "profile": 1,
    "cohort": 3,
}
# Where a fingerprint is routed (``partition_key``): the kinds one operator's accounts share.
ROUTING_KINDS = ("system_prompt", "template", "cohort")
MIN_LINK_WEIGHT = 3
# Joining an existing campaign takes two links to its members, each of at least two weak keys.
MIN_JOIN_LINK_WEIGHT = 2
MIN_CAMPAIGN_ACCOUNTS = 5
MIN_LINKS_TO_JOIN = 2
# A newcomer must look at least half as suspicious as the campaign's typical member: a campaign
# runs one playbook, so its members look alike; a bystander sharing a network does not. Once
# the campaign has members enough to show its spread, the newcomer must also lie within it:
# no lower than ``SPREAD_MADS`` robust standard deviations (1.4826 MAD) below their median.
CONSISTENCY = 0.5
SPREAD_MADS = 3.0
# The spread is read only from this many members on: the MAD of the handful a young campaign
# has can come out far tighter than its playbook's (5 founders agreeing to 0.04 where the
# hydra's 24 spread over 7.6-8.6), which turned half of a hydra away into a second campaign.
SPREAD_MIN_MEMBERS = 10
MAX_MEMBERS_PER_KEY = 2_000
MAX_LINK_CANDIDATES_PER_KEY = 128
MAX_RELATED_IN_ALERT = 500
SYNC_WINDOW_SECONDS = 2 * 3600.0
RENAME_INTERVAL_SECONDS = 1800.0  # newly joined members are named within this much event time
REEVALUATE_SECONDS = 60.0  # a campaign is re-scored at most this often unless it grew
SIZE_WEIGHT = 3.0  # log-odds at 32 members
SYNC_WEIGHT = 1.5
MIN_SYNCHRONISED = 0.5
BIAS = 5.0
CATEGORY = "coordinated_extraction"

KEY_KINDS = tuple(KEY_WEIGHTS)

# Why a campaign's episode closed (``Alert.status_reason``), as for an account's (feedback.py).
CloseReason = Literal["subsided", "confirmed_resolved", "false_positive", "allowlisted", "superseded"]
# The account lifecycle's quiet time, the stage's default when not given one (the setting's
# default, never the environment: whoever builds the stage passes the configured value).
DEFAULT_CLOSE_AFTER_SECONDS: float = Settings.model_fields["close_after_seconds"].default
_SEVERITY_BY_RANK = {s.rank: s for s in Severity}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the coordination stage needs of one suspicious account; no text, only hashes."""

    account_id: str
    org_id: str | None
    at: float
    suspicious_since: float
    specific: float  # the account's own extraction-specific evidence (log-odds)
    requests: int
    tokens: int
    keys: tuple[tuple[str, int], ...]


@dataclass(slots=True)
class Member:
    """One suspicious account as the stage remembers it (its latest fingerprint, mostly).

    ``partition`` is the input partition its fingerprint came from: its changelog record lives
    there and it is dropped when that partition is revoked. ``seq`` numbers observations, so a
    restore rebuilds the members (and each key's holders) in the order they were last seen.
    """

    org_id: str | None
    suspicious_since: float
    last_seen: float
    specific: float
    requests: int
    tokens: int
    keys: frozenset[tuple[str, int]]
    partition: int | None = None
    seq: int = 0


@dataclass(slots=True)
class Campaign:
    """A growing cluster of linked suspicious accounts and its alert episode."""

    campaign_id: str
    anchor_account: str
    org_id: str | None
    started: float
    members: set[str] = field(default_factory=set)
    alerted_size: int = 0
    alert_severity_rank: int = 0
    revision: int = 0
    alerted_at: float = -math.inf  # event time of the last revision
    evaluated_at: float = -math.inf  # event time its members were last scored together
    evaluated_size: int = 0
    median_specific: float = 0.0  # members' typical own evidence, as of evaluated_at
    join_floor: float = 0.0  # the least own evidence a newcomer needs, as of evaluated_at
    alert_score: float = 0.0  # the score of the last revision that scored it (for the closing)
    verdict: str | None = None  # the latest analyst verdict on this campaign's alert_id
    closed_at: float | None = None  # event time its closing revision was emitted; None = open
    # Newest fingerprint time of a member as far as the stage noticed (a lower bound after a
    # merge; checked against the members before closing). Not checkpointed: rebuilt on restore.
    last_seen: float = -math.inf


class CoordinationChanges(NamedTuple):
    """What a checkpoint must write since the last one (live objects: encode them before
    processing goes on). Members go to their own partition; a campaign goes to every partition
    that holds one of its members, so whoever restores any of them gets the campaign too."""

    members: list[tuple[str, Member, str | None]]  # (account, state, campaign it is in)
    campaigns: list[tuple[Campaign, frozenset[int | None]]]
    removed_members: list[tuple[int | None, str]]  # (partition, account)
    removed_campaigns: list[tuple[int | None, str]]  # (partition, campaign id)


class CoordinationStage:
    """Incremental clustering of suspicious accounts over shared infrastructure and templates.

    With ``track_changes`` (set by the changelog store that checkpoints it) the stage notes which
    members and campaigns changed, so a checkpoint writes only those (``take_changes``); state
    comes back with ``restore`` and leaves with ``drop_partitions``. Without it (replay, demo,
    changelog off) nothing is noted and nothing accumulates.
    """

    def __init__(
        self,
        policy: AlertPolicy,
        ttl_seconds: float,
        detector_version: str,
        close_after_seconds: float = DEFAULT_CLOSE_AFTER_SECONDS,
    ) -> None:
        self._policy = policy
        self._ttl = ttl_seconds
        self._version = detector_version
        # A campaign closes before its members could expire, so every alerted one gets a closing.
        self._close_after = min(close_after_seconds, ttl_seconds)
        # A closed campaign's record outlives its members; afterwards a new campaign's id is past
        # its bucket anyway (``_new_campaign_id``).
        self._closed_retention = ttl_seconds + policy.cooldown_seconds
        self.members: OrderedDict[str, Member] = OrderedDict()
        self.by_key: dict[tuple[str, int], OrderedDict[str, None]] = {}
        self.campaign_of: dict[str, str] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.closed: dict[str, Campaign] = {}  # closed episodes (no members), until retention ends
        self._check_quiet_at = math.inf  # no campaign can close or lapse before this event time
        self._closed_in: dict[str, set[int | None]] = {}  # partitions of a campaign's members at close
        self.track_changes = False
        self._seq = 0
        self._dirty_members: set[str] = set()
        self._dirty_campaigns: set[str] = set()
        # Where each record was last written, so that what moves or goes is tombstoned there.
        self._member_written: dict[str, int | None] = {}
        self._campaign_written: dict[str, set[int | None]] = {}
        # Alerted campaigns absorbed by another while a fingerprint is folded in, with the id of
        # the one that continues them: each gets a closing revision (``superseded``).
        self._merged: list[tuple[Campaign, str]] = []

    def observe_one(
        self,
        fingerprint: Fingerprint,
        emitted_at: datetime,
        partition: int | None = None,
        read_until: float = math.inf,
    ) -> list[Alert]:
        """Fold one fingerprint (from input ``partition``) in; return the campaign alert it causes.

        ``read_until`` is the event time up to which every input partition that still has unread
        records has been read (the caller knows; infinite when none has). A campaign closes, and
        a member expires, only on time that every partition has reached: a partition read ahead
        of another (a restart behind a backlog drains them at different paces) must not close a
        campaign whose members sit in the one behind."""
        account = fingerprint.account_id
        now = min(fingerprint.at, read_until)
        closings = self._close_quiet(now, emitted_at)
        self._expire(now)
        previous = self.members.pop(account, None)
        self._seq += 1
        member = Member(
            org_id=fingerprint.org_id,
            suspicious_since=previous.suspicious_since if previous else fingerprint.suspicious_since,
            last_seen=fingerprint.at,
            specific=fingerprint.specific,
            requests=fingerprint.requests,
            tokens=fingerprint.tokens,
            keys=frozenset(fingerprint.keys),
            partition=partition,
            seq=self._seq,
        )
        self.members[account] = member
        self._touch_member(account)
        if previous is not None:
            # Keys the account no longer shows stop linking it (and cannot outlive it).
            self._unindex(account, previous.keys - member.keys)
        for key in member.keys:
            self._index(account, key)
        strong, weak = self._linked(account, member)
        if not weak and account not in self.campaign_of:
            return closings
        campaign = self._campaign_for(account, strong, weak)
        if self._merged:
            closings += [
                self._close_merged(absorbed, into, fingerprint.at, emitted_at)
                for absorbed, into in self._merged
            ]
            self._merged.clear()
        if campaign is None:
            return closings
        campaign.last_seen = max(campaign.last_seen, fingerprint.at)
        alert = self._maybe_alert(campaign, fingerprint.at, emitted_at)
        return [*closings, alert] if alert is not None else closings

    def _index(self, account: str, key: tuple[str, int]) -> None:
        holders = self.by_key.setdefault(key, OrderedDict())
        holders.pop(account, None)
        holders[account] = None
        if len(holders) > MAX_MEMBERS_PER_KEY:
            holders.popitem(last=False)

    def _unindex(self, account: str, keys: Iterable[tuple[str, int]]) -> None:
        for key in keys:
            holders = self.by_key.get(key)
            if holders is not None:
                holders.pop(account, None)
                if not holders:
                    del self.by_key[key]

    def _touch_member(self, account: str) -> None:
        if self.track_changes:
            self._dirty_members.add(account)

    def _touch_campaign(self, campaign_id: str) -> None:
        if self.track_changes:
            self._dirty_campaigns.add(campaign_id)

    def _linked(self, account: str, member: Member) -> tuple[set[str], set[str]]:
        """(accounts linked strongly enough to found a campaign, accounts linked at all)."""
        shared: dict[str, float] = {}
        org = member.org_id
        for key in member.keys:
            weight = KEY_WEIGHTS[key[0]]
            holders = self.by_key.get(key)
            if not holders:
                continue
            # The most recently active holders only: a link needs a few members, not all of a
            # big campaign's (and one shared cloud user agent may be held by thousands).
            for other in islice(reversed(holders), MAX_LINK_CANDIDATES_PER_KEY):
                # Accounts of one organisation are one customer: its office network, user agent
                # and system prompt are shared by design, so they link nobody to anybody.
                if other == account:
                    continue
                holder = self.members.get(other)
                if holder is not None and (org is None or holder.org_id != org):
                    shared[other] = shared.get(other, 0) + weight
        strong = {other for other, weight in shared.items() if weight >= MIN_LINK_WEIGHT}
        weak = {other for other, weight in shared.items() if weight >= MIN_JOIN_LINK_WEIGHT}
        return strong, weak

    def _campaign_for(self, account: str, linked: set[str], weak: set[str]) -> Campaign | None:
        own = self.campaign_of.get(account)
        # A newcomer joins a campaign only when linked to at least two of its members: one shared
        # generic template or network is a coincidence, two independent links are a pattern.
        counts: dict[str, int] = {}
        for other in weak:
            campaign_id = self.campaign_of.get(other)
            if campaign_id is not None:
                counts[campaign_id] = counts.get(campaign_id, 0) + 1
        specific = self.members[account].specific
        known = {
            cid
            for cid, count in counts.items()
            if cid != own and count >= MIN_LINKS_TO_JOIN and specific >= self._join_floor(cid)
        }
        if own is not None:
            known.add(own)
        if known:
            # Join the oldest alerted campaign (downstream holds its alert_id open), else the
            # oldest; absorb the others (clusters only merge, never split).
            ordered = sorted(
                known,
                key=lambda cid: (self.campaigns[cid].revision == 0, self.campaigns[cid].started, cid),
            )
            campaign = self.campaigns[ordered[0]]
            for absorbed_id in ordered[1:]:
                absorbed = self.campaigns.pop(absorbed_id)
                self._touch_campaign(absorbed_id)
                for moved in absorbed.members:
                    self.campaign_of[moved] = campaign.campaign_id
                    self._touch_member(moved)
                campaign.members |= absorbed.members
                self._touch_campaign(campaign.campaign_id)
                if absorbed.revision > 0:  # downstream has it open: it must hear that it ended
                    self._merged.append((absorbed, campaign.campaign_id))
            joining = {account}
        elif (
            self._customers(free := {a for a in linked if a not in self.campaign_of} | {account})
            >= MIN_CAMPAIGN_ACCOUNTS
        ):
            # Found a campaign only from accounts that are in none yet: members of an existing
            # campaign stay there (and the new id cannot collide with theirs).
            seed = min(free, key=lambda a: (self.members[a].suspicious_since, a))
            started = self.members[seed].suspicious_since
            campaign_id = self._new_campaign_id(seed, started, self.members[account].last_seen)
            campaign = self.campaigns.get(campaign_id) or Campaign(
                campaign_id, seed, self.members[seed].org_id, started
            )
            self.campaigns[campaign_id] = campaign
            joining = free
        else:
            return None
        for joined in joining:
            if joined not in campaign.members:
                self._touch_campaign(campaign.campaign_id)
                self._touch_member(joined)
            self.campaign_of[joined] = campaign.campaign_id
            campaign.members.add(joined)
        return campaign

    def _customers(self, accounts: Iterable[str]) -> int:
        """Distinct customers among ``accounts``: an organisation counts once, an org-less account
        for itself."""
        return len({self.members[a].org_id or f"\x00{a}" for a in accounts if a in self.members})

    def _join_floor(self, campaign_id: str) -> float:
        """The least own evidence a newcomer needs to join; from the campaign's last evaluation
        when there was one (at most ``REEVALUATE_SECONDS`` old), so a join does not sort a big
        campaign again."""
        campaign = self.campaigns[campaign_id]
        if campaign.evaluated_at > -math.inf:
            return campaign.join_floor
        return join_floor(sorted(self.members[m].specific for m in campaign.members if m in self.members))

    def _maybe_alert(self, campaign: Campaign, at: float, emitted_at: datetime) -> Alert | None:
        # Scoring a campaign walks all its members; between growth steps and renaming it is done
        # at most every REEVALUATE_SECONDS of event time, so that a member's fingerprint costs
        # O(1) however big the campaign (a severity rise waits at most that long).
        size = len(campaign.members)
        if (
            not _grew_by_a_fifth(size, campaign.evaluated_size)
            and at - campaign.evaluated_at < REEVALUATE_SECONDS
        ):
            return None
        live = [m for m in campaign.members if m in self.members]
        size = len(live)
        # A campaign is many customers acting as one; several accounts of one organisation are
        # one customer however many keys it holds.
        customers = self._customers(live)
        if customers < MIN_CAMPAIGN_ACCOUNTS:
            return None
        members = [self.members[m] for m in live]
        self._touch_campaign(campaign.campaign_id)
        campaign.evaluated_at = at
        campaign.evaluated_size = size
        ordered = sorted(m.specific for m in members)
        campaign.median_specific = ordered[size // 2]
        campaign.join_floor = join_floor(ordered)
        mean_specific = sum(ordered) / size
        onsets = sorted(m.suspicious_since for m in members)
        median_onset = onsets[size // 2]
        synchronised = sum(1 for t in onsets if abs(t - median_onset) <= SYNC_WINDOW_SECONDS) / size
        if synchronised < MIN_SYNCHRONISED:
            return None  # look-alikes that turned suspicious at unrelated times: not one operator
        # Coordination shows as size *and* a shared onset; accounts that merely resemble each
        # other over a day (common phrasings, one cloud) get little from their number.
        amplifier = (SIZE_WEIGHT * min(1.0, math.log2(customers) / 5.0) + SYNC_WEIGHT) * synchronised
        # Size and synchrony amplify the members' own evidence, at most doubling it: many weakly
        # odd accounts that share an office network do not add up to a campaign.
        evidence = mean_specific + min(amplifier, mean_specific)
        score = 1.0 / (1.0 + math.exp(-(evidence - BIAS)))
        severity = self._policy.severity(score)
        if severity is None:
            return None
        # Re-send when the campaign grew by a fifth (at least two accounts), or when any account
        # joined since the last revision and that was a while ago: bounded revisions, and every
        # member is named soon after it joins, also the last few of a big campaign.
        grew = size >= MIN_CAMPAIGN_ACCOUNTS and _grew_by_a_fifth(size, campaign.alerted_size)
        pending = size > campaign.alerted_size and at - campaign.alerted_at >= RENAME_INTERVAL_SECONDS
        if not grew and not pending and severity.rank <= campaign.alert_severity_rank:
            return None
        campaign.alerted_at = at
        campaign.alerted_size = max(campaign.alerted_size, size)
        campaign.alert_severity_rank = max(campaign.alert_severity_rank, severity.rank)
        campaign.revision += 1
        campaign.alert_score = round(score, 4)
        if campaign.revision == 1:
            self._check_quiet_at = min(self._check_quiet_at, at + self._close_after)
        requests = sum(m.requests for m in members)
        tokens = sum(m.tokens for m in members)
        shared_kinds = sorted({kind for m in members for kind, _ in m.keys})
        reasons = [
            Reason(
                signal="coordinated_accounts",
                observed=float(size),
                baseline=1.0,
                explanation=(
                    f"{size} accounts with extraction-like traffic share {', '.join(shared_kinds)}; "
                    f"{synchronised:.0%} became active within 2 h of each other"
                ),
            ),
            Reason(
                signal="campaign_requests",
                observed=float(requests),
                baseline=0.0,
                explanation=f"{requests:,} calls and {tokens:,} tokens across the campaign's windows",
            ),
            Reason(
                signal="member_evidence",
                observed=round(mean_specific, 3),
                baseline=0.0,
                explanation=f"mean extraction evidence of members {mean_specific:.1f} log-odds on their own",
            ),
        ]
        related = sorted(a for a in live if a != campaign.anchor_account)[:MAX_RELATED_IN_ALERT]
        return Alert(
            alert_id=campaign.campaign_id,
            revision=campaign.revision,
            account_id=campaign.anchor_account,
            org_id=campaign.org_id,
            detected_at=datetime.fromtimestamp(at, tz=UTC),
            emitted_at=emitted_at,
            score=round(score, 4),
            severity=severity,
            category=CATEGORY,
            reasons=reasons,
            window=AlertWindow(
                start=datetime.fromtimestamp(onsets[0], tz=UTC),
                end=datetime.fromtimestamp(at, tz=UTC),
                requests=requests,
                tokens=tokens,
            ),
            related_accounts=related,
            detector_version=self._version,
            verdict=_verdict(campaign.verdict),
        )

    def _new_campaign_id(self, seed: str, started: float, at: float) -> str:
        """The id of a campaign founded at event time ``at`` by ``seed``, suspicious since
        ``started``: the same for the same seed and onset (a campaign founded again from the same
        accounts keeps its id), but never a closed campaign's id (the next bucket is taken
        instead), nor, once that record has lapsed, its bucket (the floor ``at - ttl`` is past
        it), so a closed ``alert_id`` is never reopened."""
        cooldown = self._policy.cooldown_seconds
        bucket = int(max(started, at - self._ttl) // cooldown)
        while True:
            campaign_id = hashlib.sha256(f"{CATEGORY}\x1f{seed}\x1f{bucket}".encode()).hexdigest()[:32]
            if campaign_id not in self.closed:
                return campaign_id
            bucket += 1

    # --- the end of a campaign's episode -------------------------------------------------------
    def _close_quiet(self, now: float, emitted_at: datetime) -> list[Alert]:
        """Close every alerted campaign none of whose members has been seen for the close delay
        at event time ``now``, and forget closed records past their retention. Runs only when
        something can be due (``_check_quiet_at``), so a fingerprint costs O(1) in between."""
        if now < self._check_quiet_at:
            return []
        out: list[Alert] = []
        next_check = math.inf
        for campaign in list(self.campaigns.values()):
            if campaign.revision == 0:
                continue  # never alerted: nothing to close (its members expire as usual)
            if now - campaign.last_seen >= self._close_after:
                # The noted time may trail a member that came in by a merge: ask the members.
                campaign.last_seen = max(
                    (self.members[m].last_seen for m in campaign.members if m in self.members),
                    default=campaign.last_seen,
                )
            if now - campaign.last_seen >= self._close_after:
                out.append(self._close(campaign, self._quiet_reason(campaign), now, emitted_at))
            else:
                next_check = min(next_check, campaign.last_seen + self._close_after)
        for campaign_id, closed in list(self.closed.items()):
            assert closed.closed_at is not None
            if now - closed.closed_at >= self._closed_retention:
                del self.closed[campaign_id]
                self._closed_in.pop(campaign_id, None)
                self._touch_campaign(campaign_id)  # tombstoned where it was written
            else:
                next_check = min(next_check, closed.closed_at + self._closed_retention)
        self._check_quiet_at = next_check
        return out

    @staticmethod
    def _quiet_reason(campaign: Campaign) -> CloseReason:
        return "confirmed_resolved" if campaign.verdict == "confirmed" else "subsided"

    def _close(self, campaign: Campaign, reason: CloseReason, at: float, emitted_at: datetime) -> Alert:
        """The closing revision of an open campaign; its members leave the stage (they found a
        new campaign if they come back) and it is kept as a closed record."""
        explanation = {
            "subsided": f"no member has shown extraction evidence for {self._close_after / 3600:.1f} h",
            "confirmed_resolved": "confirmed by an analyst; the activity has since subsided",
            "false_positive": "an analyst marked this campaign a false positive; its members are "
            "still watched and form a new campaign if they keep showing it",
            "allowlisted": "an analyst allowlisted this campaign; its members are still watched and "
            "form a new campaign if they keep showing it",
        }[reason]
        alert = self._record_closing(campaign, explanation, reason, at, emitted_at)
        del self.campaigns[campaign.campaign_id]
        for account in list(campaign.members):
            if account in self.members:
                self._forget(account)
                self._touch_member(account)
        campaign.members = set()
        return alert

    def _close_merged(self, absorbed: Campaign, into: str, at: float, emitted_at: datetime) -> Alert:
        """The closing revision of an alerted campaign absorbed by ``into``: its members carry on
        there (so, unlike ``_close``, they stay), and its id is kept as a closed record."""
        explanation = f"merged into campaign {into}, which continues it with its members"
        alert = self._record_closing(absorbed, explanation, "superseded", at, emitted_at)
        absorbed.members = set()
        return alert

    def _record_closing(
        self, campaign: Campaign, explanation: str, reason: CloseReason, at: float, emitted_at: datetime
    ) -> Alert:
        """The closing revision itself, and the closed record that keeps its id from being reused
        (checkpointed where its members' records were)."""
        campaign.revision += 1
        alert = self._revision(
            campaign,
            Reason(signal="episode_closed", observed=0.0, baseline=0.0, explanation=explanation),
            at,
            emitted_at,
            status_reason=reason,
        )
        campaign_id = campaign.campaign_id
        campaign.closed_at = at
        self.closed[campaign_id] = campaign
        self._check_quiet_at = min(self._check_quiet_at, at + self._closed_retention)
        self._touch_campaign(campaign_id)
        if self.track_changes:
            self._closed_in[campaign_id] = {
                self.members[m].partition for m in campaign.members if m in self.members
            }
        return alert

    def _revision(
        self,
        campaign: Campaign,
        reason: Reason,
        at: float,
        emitted_at: datetime,
        status_reason: CloseReason | None = None,
    ) -> Alert:
        """A revision that is not a new score (a closing, a verdict): the campaign's last score and
        severity, its members' current totals, and the one reason that says what happened."""
        live = [self.members[m] for m in campaign.members if m in self.members]
        requests = sum(m.requests for m in live)
        tokens = sum(m.tokens for m in live)
        start = min((m.suspicious_since for m in live), default=campaign.started)
        related = sorted(a for a in campaign.members if a != campaign.anchor_account and a in self.members)
        return Alert(
            alert_id=campaign.campaign_id,
            revision=campaign.revision,
            account_id=campaign.anchor_account,
            org_id=campaign.org_id,
            detected_at=datetime.fromtimestamp(at, tz=UTC),
            emitted_at=emitted_at,
            score=campaign.alert_score,
            severity=_SEVERITY_BY_RANK.get(campaign.alert_severity_rank, Severity.LOW),
            category=CATEGORY,
            reasons=[reason],
            window=AlertWindow(
                start=datetime.fromtimestamp(min(start, at), tz=UTC),
                end=datetime.fromtimestamp(at, tz=UTC),
                requests=requests,
                tokens=tokens,
            ),
            related_accounts=related[:MAX_RELATED_IN_ALERT],
            detector_version=self._version,
            status="open" if status_reason is None else "closed",
            status_reason=status_reason,
            verdict=_verdict(campaign.verdict),
        )

    def apply_verdict(
        self, alert_id: str, verdict: VerdictKind, at: float, emitted_at: datetime
    ) -> list[Alert]:
        """An analyst's verdict on a campaign's ``alert_id``; returns the revision it causes.

        ``confirmed``: a revision carrying the verdict (still open; later revisions carry it
        too, and its closing says ``confirmed_resolved``). ``false_positive`` / ``allowlisted``:
        the closing revision, carrying the verdict. Members are never suppressed: their
        fingerprints keep coming, and if they still show a campaign it is a new one (new
        ``alert_id``). An unknown or already closed id, or a verdict repeated, gives nothing."""
        campaign = self.campaigns.get(alert_id)
        if campaign is None or campaign.revision == 0 or campaign.verdict == verdict:
            return []
        campaign.verdict = verdict
        self._touch_campaign(alert_id)
        if verdict in ("false_positive", "allowlisted"):
            return [self._close(campaign, verdict, at, emitted_at)]
        campaign.revision += 1
        explanation = "an analyst confirmed this campaign"
        reason = Reason(signal="analyst_verdict", observed=1.0, baseline=0.0, explanation=explanation)
        return [self._revision(campaign, reason, at, emitted_at)]

    def _expire(self, now: float) -> None:
        horizon = now - self._ttl
        while self.members:
            account, member = next(iter(self.members.items()))
            if member.last_seen >= horizon:
                return
            self._forget(account)
            self._touch_member(account)

    def _forget(self, account: str) -> None:
        """Remove a member from the index and its campaign (a campaign left empty goes too)."""
        member = self.members.pop(account)
        self._unindex(account, member.keys)
        campaign_id = self.campaign_of.pop(account, None)
        if campaign_id is not None and campaign_id in self.campaigns:
            campaign = self.campaigns[campaign_id]
            campaign.members.discard(account)
            self._touch_campaign(campaign_id)
            if not campaign.members:
                del self.campaigns[campaign_id]

    # --- checkpoint, restore, rebalance: what the changelog store works with -----------------
    def take_changes(self) -> CoordinationChanges:
        """Drain what changed since the last call: at most one record per member and per
        campaign (and per partition a campaign spans), plus tombstones where records went."""
        changes = CoordinationChanges([], [], [], [])
        for account in self._dirty_members:
            member = self.members.get(account)
            written = self._member_written.pop(account, _NOWHERE)
            if member is None:
                if written is not _NOWHERE:
                    changes.removed_members.append((written, account))
                continue
            if written is not _NOWHERE and written != member.partition:
                changes.removed_members.append((written, account))  # its fingerprints moved
            changes.members.append((account, member, self.campaign_of.get(account)))
            self._member_written[account] = member.partition
        for campaign_id in self._dirty_campaigns:
            campaign = self.campaigns.get(campaign_id)
            before = self._campaign_written.pop(campaign_id, set())
            now: set[int | None] = set()
            if campaign is not None:
                now = {self.members[m].partition for m in campaign.members}
            elif (campaign := self.closed.get(campaign_id)) is not None:
                # A closed record stays where the campaign was (and where its members last were):
                # whoever restores one of its members' partitions learns it is closed.
                now = before | self._closed_in.pop(campaign_id, set())
            if campaign is not None and now:
                changes.campaigns.append((campaign, frozenset(now)))
                self._campaign_written[campaign_id] = now
            changes.removed_campaigns.extend((p, campaign_id) for p in before - now)
        self._dirty_members.clear()
        self._dirty_campaigns.clear()
        return changes

    def drop_partitions(self, partitions: set[int | None]) -> int:
        """Forget the members of revoked partitions (their records stay: the new owner restores
        them) and campaigns left with none; returns how many members went."""
        gone = [a for a, m in self.members.items() if m.partition in partitions]
        for account in gone:
            self._forget(account)
            self._dirty_members.discard(account)
            self._member_written.pop(account, None)
        for campaign_id in list(self._campaign_written):
            left = self._campaign_written[campaign_id] - partitions
            if campaign_id in self.campaigns or (campaign_id in self.closed and left):
                self._campaign_written[campaign_id] = left
            else:
                self._dirty_campaigns.discard(campaign_id)
                del self._campaign_written[campaign_id]
        # A closed record of revoked partitions only is the new owner's now.
        for campaign_id in list(self.closed):
            if campaign_id not in self._campaign_written and not (
                self._closed_in.get(campaign_id, set()) - partitions
            ):
                del self.closed[campaign_id]
                self._closed_in.pop(campaign_id, None)
                self._dirty_campaigns.discard(campaign_id)
        return len(gone)

    def restore(
        self,
        members: Mapping[str, tuple[Member, str | None]],
        campaigns: Mapping[str, tuple[Campaign, set[int | None]]],
    ) -> None:
        """Install members and campaigns read from the changelog (each member's ``partition`` is
        the one it was read from; each campaign comes with the partitions it was found in).

        The index and each campaign's member set are rebuilt from the members, in the order they
        were observed, so the restored stage links and alerts as the one that wrote them. What a
        crash left half-written (a member naming a campaign that is not there, a campaign without
        members) is mended and marked to be rewritten or tombstoned at the next checkpoint.
        """
        merged: dict[str, tuple[Member, str | None]] = {
            a: (m, self.campaign_of.get(a)) for a, m in self.members.items()
        }
        for account, (member, campaign_id) in members.items():
            live = merged.get(account)
            if live is None or live[0].seq < member.seq:
                merged[account] = (member, campaign_id)
                self._member_written[account] = member.partition
        for campaign_id, (campaign, found_in) in campaigns.items():
            live_campaign = self.campaigns.get(campaign_id) or self.closed.get(campaign_id)
            if live_campaign is None or campaign_progress(live_campaign) < campaign_progress(campaign):
                self.campaigns.pop(campaign_id, None)
                self.closed.pop(campaign_id, None)
                if campaign.closed_at is None:
                    self.campaigns[campaign_id] = campaign
                else:
                    campaign.members = set()
                    self.closed[campaign_id] = campaign
            self._campaign_written.setdefault(campaign_id, set()).update(found_in)
        self.members = OrderedDict()
        self.by_key = {}
        self.campaign_of = {}
        for known in self.campaigns.values():
            known.members = set()
        for account, (member, campaign_id) in sorted(merged.items(), key=lambda item: item[1][0].seq):
            self.members[account] = member
            for key in member.keys:
                self._index(account, key)
            if campaign_id is None:
                continue
            if campaign_id in self.closed:
                # Its campaign closed and it left the stage, but its tombstone never arrived.
                del self.members[account]
                self._unindex(account, member.keys)
                self._touch_member(account)
                continue
            joined = self.campaigns.get(campaign_id)
            if joined is None:
                self._touch_member(account)  # its campaign's record was lost: rewrite it alone
                continue
            self.campaign_of[account] = campaign_id
            joined.members.add(account)
            joined.last_seen = max(joined.last_seen, member.last_seen)
        for campaign_id in list(self.campaigns):
            if not self.campaigns[campaign_id].members:
                del self.campaigns[campaign_id]
                self._touch_campaign(campaign_id)  # tombstoned where it was found
        self._seq = max(self._seq, max((m.seq for m in self.members.values()), default=0))
        self._check_quiet_at = -math.inf  # what the restore brought may be due: look at the next one


_NOWHERE: Any = object()  # "never written" (None is a partition: the file source's)


def join_floor(ordered: list[float]) -> float:
    """The least own evidence that is consistent with members whose evidence is ``ordered``
    (sorted): half their median, and, from ``SPREAD_MIN_MEMBERS`` members on, no more than
    ``SPREAD_MADS`` robust standard deviations below it. The robust spread (median absolute
    deviation) is the campaign's own, so the rule needs no scale of its own: a tight playbook
    admits only look-alikes, a varied one admits more."""
    if not ordered:
        return 0.0
    median = ordered[len(ordered) // 2]
    floor = CONSISTENCY * median
    if len(ordered) >= SPREAD_MIN_MEMBERS:
        deviations = sorted(abs(value - median) for value in ordered)
        spread = 1.4826 * deviations[len(deviations) // 2]
        floor = max(floor, median - SPREAD_MADS * spread)
    return floor


def campaign_progress(campaign: Campaign) -> tuple[int, float, float]:
    """Orders two copies of one campaign (restored from two partitions): the later state wins."""
    return campaign.revision, campaign.alerted_at, campaign.evaluated_at


def _verdict(value: str | None) -> VerdictKind | None:
    return cast("VerdictKind", value) if value in get_args(VerdictKind) else None


def _grew_by_a_fifth(size: int, before: int) -> bool:
    """At least a fifth (and at least two accounts) more than ``before``: the step at which a
    campaign is re-scored and re-sent, so that both stay bounded as it grows."""
    return size >= before + max(2, before // 5)


def encode_fingerprint(fingerprint: Fingerprint) -> bytes:
    """Wire form of a fingerprint on the internal fingerprints topic (hashes and counts only)."""
    return orjson.dumps(
        {
            "v": 1,
            "account_id": fingerprint.account_id,
            "org_id": fingerprint.org_id,
            "at": fingerprint.at,
            "suspicious_since": fingerprint.suspicious_since,
            "specific": fingerprint.specific,
            "requests": fingerprint.requests,
            "tokens": fingerprint.tokens,
            "keys": [[kind, key] for kind, key in fingerprint.keys],
        }
    )


def decode_fingerprint(raw: bytes) -> Fingerprint:
    """Inverse of ``encode_fingerprint``; raises ``ValueError`` on anything else."""
    try:
        document = orjson.loads(raw)
        keys = tuple((str(kind), int(key)) for kind, key in document["keys"])
        if document.get("v") != 1 or any(kind not in KEY_WEIGHTS for kind, _ in keys):
            raise ValueError("unknown fingerprint version or key kind")
        return Fingerprint(
            account_id=str(document["account_id"]),
            org_id=None if document["org_id"] is None else str(document["org_id"]),
            at=float(document["at"]),
            suspicious_since=float(document["suspicious_since"]),
            specific=float(document["specific"]),
            requests=int(document["requests"]),
            tokens=int(document["tokens"]),
            keys=keys,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"not a fingerprint: {type(error).__name__}") from error


def partition_key(fingerprint: Fingerprint) -> bytes:
    """Key on the fingerprints topic: the strongest key, so that accounts sharing a template or
    system prompt meet in one partition of the coordination stage."""
    strong = [key for key in fingerprint.keys if key[0] in ROUTING_KINDS]
    kind, value = min(strong) if strong else (min(fingerprint.keys) if fingerprint.keys else ("account", 0))
    return f"{kind}:{value}".encode()
