"""One record's path through the detector, top to bottom, with no I/O.

``Detector.process_one`` takes the raw bytes of one message and returns what to send (alerts,
dead letters); the runner does the sending. ``detector run`` (Kafka) and ``detector replay``
(files) both call exactly this, so detection measured in replay is detection in production.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple

from detector import __version__
from detector.events import Alert, Rejected
from detector.pipeline.coordination import CoordinationStage, Fingerprint, decode_fingerprint
from detector.pipeline.decide import AlertPolicy, decide_one
from detector.pipeline.features import conversation_depth, event_signals, profile_key
from detector.pipeline.feedback import (
    AlertLifecycle,
    EpisodeIndex,
    begin_traffic,
    declared_peer_means,
    episode_open,
)
from detector.pipeline.learners import (
    FormReference,
    PopulationModel,
    TemplatePrevalence,
    learn_own_baseline,
    learn_own_shape,
    own_surge,
)
from detector.pipeline.scoring import (
    FORM_RANK_FROM,
    MIN_UNWRAPPED_SINGLE_TURN,
    PEER_MEAN_SIGNALS,
    Assessment,
    PeerView,
    assess,
    below_reach,
    can_reach,
    evidence,
    reliable_terms,
    specific_terms,
    unwrapped_single_turn,
)
from detector.pipeline.signals import form as prompt_form
from detector.pipeline.signals import sequential
from detector.pipeline.signals import sketch as prompt_sketches
from detector.pipeline.signals.normalize import normalize_prompt
from detector.pipeline.signals.subaccounts import sub_key
from detector.pipeline.state import WINDOW_BUCKETS, AccountState, AccountStore, DedupWindow
from detector.pipeline.validate import decode_event
from detector.settings import Settings
from detector.verdicts import AnalystVerdict, Feedback, WorkloadDeclaration, decode_feedback

# Org-less accounts with one request profile whose evidence began in the same bucket of event
# time share a "cohort" key.
ONSET_BUCKET_SECONDS = 3 * 3600.0
# Template keys a fingerprint carries: a link by templates takes two shared ones (coordination).
FINGERPRINT_TEMPLATES = 2
# Expiry sweeps run every this many events; each sweep is O(expired accounts).
_EXPIRE_EVERY = 1_000


@dataclass(slots=True)
class StepResult:
    """What one message produced: things to publish, and what happened to it."""

    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[Rejected] = field(default_factory=list)
    duplicate: bool = False
    account_id: str | None = None
    fingerprints: list[Fingerprint] = field(default_factory=list)


@dataclass(slots=True)
class PartitionState:
    """Accounts and recent event ids of one input partition; ``dirty`` = changed since checkpoint."""

    accounts: AccountStore
    dedup: DedupWindow
    dirty: set[str] = field(default_factory=set)
    episodes: EpisodeIndex = field(default_factory=EpisodeIndex)  # open alert episodes (sweep)


@dataclass(frozen=True, slots=True)
class PartitionChanges:
    """One partition's state changes since the last checkpoint: accounts to write (live objects:
    serialise them before processing goes on) and ids that were forgotten (tombstones)."""

    partition: int | None
    updated: list[AccountState]
    removed: list[str]


class SourceRef(NamedTuple):
    """Where a message came from, copied into its dead letter so it can be found again.

    A named tuple (one is made per message): built in one step, where a frozen dataclass sets
    each field through ``object.__setattr__``.
    """

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None


class CoordinationProcessor:
    """The coordination stage as the run loop drives it: fingerprints in, campaign alerts out.

    ``detector coordinate`` consumes the fingerprints topic with this; a record that is not a
    fingerprint becomes a dead letter like any bad input.
    """

    publishes_fingerprints = False

    def __init__(
        self, settings: Settings, clock: Callable[[], datetime], detector_version: str = __version__
    ) -> None:
        policy = AlertPolicy.from_settings(settings)
        self.stage = CoordinationStage(
            policy, settings.coordination_ttl_seconds, detector_version, settings.close_after_seconds
        )
        self._clock = clock
        # Event time read so far per fingerprints partition, and the partitions with records
        # still to read (``set_unread_partitions``): closings wait for the slowest of those.
        self._read_until: dict[int | None, float] = {}
        self._unread: frozenset[int | None] = frozenset()

    @property
    def tracked_accounts(self) -> int:
        return len(self.stage.members)

    def set_unread_partitions(self, partitions: frozenset[int | None]) -> None:
        """The input partitions that still hold records this stage has not processed."""
        self._unread = partitions

    def process_one(self, raw: bytes, source: SourceRef | None = None) -> StepResult:
        ref = source or SourceRef()
        try:
            fingerprint = decode_fingerprint(raw)
        except ValueError as error:
            rejected = Rejected(
                reason="invalid_fingerprint",
                detail=str(error),
                raw=raw,
                raw_key=ref.key,
                source_topic=ref.topic,
                source_partition=ref.partition,
                source_offset=ref.offset,
            )
            return StepResult(dead_letters=[rejected])
        if fingerprint.at > self._read_until.get(ref.partition, -math.inf):
            self._read_until[ref.partition] = fingerprint.at
        read_until = min((self._read_until.get(p, -math.inf) for p in self._unread), default=math.inf)
        alerts = self.stage.observe_one(fingerprint, self._clock(), ref.partition, read_until)
        return StepResult(alerts=alerts, account_id=fingerprint.account_id)


def _read_prompt(state: AccountState, text: str) -> None:
    """Fold a (normalised) prompt into the account's topic sketch and form, on the sketch's
    cadence, with one bare-item check for both."""
    if not prompt_sketches.due(state.sketch, state.total_events):
        return
    bare = prompt_sketches.is_bare_item(text)
    state.sketch = prompt_sketches.observe_one(state.sketch, text, state.total_events, bare)
    if prompt_form.due(state.form, state.total_events):
        state.form = prompt_form.observe_one(state.form, text, bare)


class Detector:
    """The whole pipeline for the accounts this worker owns."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime],
        detector_version: str = __version__,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._version = detector_version
        # Keyed state is scoped to the input partition that owns it, so that a partition can be
        # restored, checkpointed or dropped on rebalance without touching the others.
        self.partitions: dict[int | None, PartitionState] = {}
        self.population = PopulationModel(
            n_trees=settings.hst_trees,
            height=settings.hst_height,
            window_size=settings.hst_window_size,
            seed=settings.seed,
            peer_mean_signals=PEER_MEAN_SIGNALS,
        )
        self.templates = TemplatePrevalence()
        # The same prevalence count for networks, user agents and request profiles: one that many
        # unsuspicious accounts share (an SDK's user agent and defaults, a big NAT) links nobody.
        self.infrastructure = TemplatePrevalence()
        # How ordinary accounts write their prompts: the null of the prompt-form test.
        self.form_reference = FormReference()
        self.policy = AlertPolicy.from_settings(settings)
        # In one process (replay, demo, a single worker) the coordination stage runs inline; in a
        # scaled-out group the runner ships StepResult.fingerprints through a topic instead.
        self.coordination = (
            CoordinationStage(
                self.policy, settings.coordination_ttl_seconds, detector_version, settings.close_after_seconds
            )
            if settings.coordination_mode == "inline"
            else None
        )
        self.lifecycle = AlertLifecycle(settings, self.policy, detector_version)
        self._verdicts_topic = settings.verdicts_topic
        self._half_life = settings.half_life_seconds
        self._bucket_seconds = settings.window_seconds / WINDOW_BUCKETS
        self.watermark = 0.0
        self.events_processed = 0
        self._unread: frozenset[int | None] = frozenset()

    def set_unread_partitions(self, partitions: frozenset[int | None]) -> None:
        """The input partitions that still hold records this worker has not processed."""
        self._unread = partitions

    def _read_until(self) -> float:
        """Event time every partition with unread records has been read to: inline campaigns
        span this worker's partitions, and close only on time all of them have reached."""
        owned = self.partitions
        return min(
            (owned[p].episodes.watermark if p in owned else -math.inf for p in self._unread),
            default=math.inf,
        )

    def process_one(self, raw: bytes, source: SourceRef | None = None) -> StepResult:
        """Validate, deduplicate, update the account, score it when due, decide on an alert."""
        ref = source or SourceRef()
        if ref.topic is not None and ref.topic == self._verdicts_topic:
            return self.process_feedback(raw, ref)
        # 1. Contract: bad input becomes a dead letter, never an exception.
        decoded = decode_event(
            raw,
            max_message_bytes=self.settings.max_message_bytes,
            topic=ref.topic,
            partition=ref.partition,
            offset=ref.offset,
            key=ref.key,
        )
        if isinstance(decoded, Rejected):
            return StepResult(dead_letters=[decoded])
        event, at = decoded
        # 2. Redelivery: an event id seen recently, or an offset already folded into the
        #    account's (restored) state, is one call, not two.
        partition = self.partition(ref.partition)
        if partition.dedup.seen_before(event.event_id):
            return StepResult(duplicate=True, account_id=event.account_id)
        state = partition.accounts.get_or_create(event.account_id, event.org_id, at)
        if ref.offset is not None and ref.offset <= state.applied_offset:
            return StepResult(duplicate=True, account_id=event.account_id)
        if not state.total_events and state.feedback is not None:
            begin_traffic(state, event.org_id, at)  # told about (a verdict) before its first call
        # 3. Fold the event into its account's state (prompt text is reduced to numbers here),
        #    and into its end user's, where a shared account names the user.
        text = normalize_prompt(event.prompt) if event.prompt else None
        signals = event_signals(event, state.last_depth, text)
        state.last_depth = conversation_depth(event)
        state.update_one(signals, at, self._half_life, self._bucket_seconds)
        if ref.offset is not None:
            state.applied_offset = ref.offset
        partition.dirty.add(event.account_id)
        # 3b. Sketch the account's prompt distribution and form: every prompt until the sketch
        #     is stable, then a consecutive pair in every 32 (bounded cost; only numbers are kept).
        if text:
            _read_prompt(state, text)
        end_user = None
        if event.end_user_id and self.settings.score_end_users:
            end_user = partition.accounts.get_or_create(
                sub_key(event.account_id, event.end_user_id), event.org_id, at
            )
            end_user.end_user_id = event.end_user_id
            end_user.update_one(signals, at, self._half_life, self._bucket_seconds)
            if text:
                _read_prompt(end_user, text)
            partition.dirty.add(end_user.account_id)
        self.events_processed += 1
        self.watermark = max(self.watermark, at)
        if self.events_processed % _EXPIRE_EVERY == 0:
            for owned in self.partitions.values():
                owned.accounts.expire(self.watermark)
        # 4. Score when due: every N events of the account or after enough event time.
        # 5. Suspicious accounts publish a fingerprint for the cross-account stage.
        result = StepResult(account_id=event.account_id)
        episodes = partition.episodes
        if at > episodes.watermark:
            episodes.watermark = at
            if episodes.open:  # 6. Close the episodes of accounts whose evidence subsided.
                result.alerts.extend(self.lifecycle.sweep(partition.accounts, episodes, self._clock()))
        for scored in (state, end_user):
            if scored is None or not self._due_for_scoring(scored, at):
                continue
            scored.request_profile = profile_key(event)
            alerts, fingerprint = self._score_and_decide(scored, at, partition)
            result.alerts.extend(alerts)
            if fingerprint is not None:
                result.fingerprints.append(fingerprint)
                if self.coordination is not None:
                    result.alerts.extend(
                        self.coordination.observe_one(
                            fingerprint, self._clock(), ref.partition, self._read_until()
                        )
                    )
        return result

    def process_feedback(self, raw: bytes, source: SourceRef | None = None) -> StepResult:
        """A verdicts-topic record (verdict or declaration): validated, folded into the account it
        names (on this partition, as keyed), and the revisions it causes returned."""
        ref = source or SourceRef()
        decoded = decode_feedback(raw, ref.key, topic=ref.topic, partition=ref.partition, offset=ref.offset)
        if isinstance(decoded, Rejected):
            return StepResult(dead_letters=[decoded])
        return self.apply_feedback(decoded, ref.partition)

    def apply_feedback(self, message: Feedback, partition_number: int | None = None) -> StepResult:
        """Fold a validated verdict or declaration into its account (created if unknown: an
        allowlist or a declaration may come before the account's first call)."""
        assert message.account_id is not None  # decode_feedback fills it in
        partition = self.partition(partition_number)
        decided = None if isinstance(message, WorkloadDeclaration) else message.decided_at
        at = decided.timestamp() if decided is not None else (partition.episodes.watermark or self.watermark)
        state = partition.accounts.get(message.account_id)
        if state is None:
            state = partition.accounts.get_or_create(message.account_id, None, at)
        alerts = self.lifecycle.apply(state, message, at, self._clock(), partition.episodes)
        partition.dirty.add(message.account_id)
        # A verdict on a campaign's alert_id (keyed by one of its members) is the campaign's too,
        # where the stage runs in this process: a revision carrying it, or its closing.
        if (
            self.coordination is not None
            and isinstance(message, AnalystVerdict)
            and message.alert_id is not None
            and message.alert_id in self.coordination.campaigns
        ):
            alerts += self.coordination.apply_verdict(message.alert_id, message.verdict, at, self._clock())
        return StepResult(alerts=alerts, account_id=message.account_id)

    # --- partition management: what a checkpoint, a restore and a rebalance work with ----------
    def partition(self, number: int | None) -> PartitionState:
        """The keyed state of one input partition (created empty on first use)."""
        owned = self.partitions.get(number)
        if owned is None:
            owned = self.partitions[number] = self.empty_partition()
        return owned

    def empty_partition(self) -> PartitionState:
        """A fresh partition state; its store records evictions so they become tombstones."""
        return PartitionState(
            AccountStore(self.settings.account_ttl_seconds, self.settings.max_accounts, track_removals=True),
            DedupWindow(self.settings.dedup_window_events),
        )

    def restore_partition(self, number: int | None, accounts: Iterable[AccountState]) -> PartitionState:
        """Install a partition's state rebuilt from its checkpoint, replacing whatever was there.

        The recent-event-id window starts empty: redeliveries of events already folded in are
        still recognised by each account's ``applied_offset``.
        """
        owned = self.empty_partition()
        owned.accounts.load(accounts)
        owned.episodes = EpisodeIndex.of(owned.accounts)
        self.lifecycle.relearn(owned.accounts)  # the feedback learner's checkpoint is its examples
        self.partitions[number] = owned
        return owned

    def adopt_partition(self, number: int | None, owned: PartitionState) -> None:
        """Install a partition state kept in memory (a local snapshot) as this partition's state."""
        self.partitions[number] = owned

    def drop_partition(self, number: int | None) -> PartitionState | None:
        """Forget a revoked partition's state (after its offsets were committed); returns it, so a
        caller may keep it as a local snapshot to speed up a later restore."""
        return self.partitions.pop(number, None)

    def take_changes(self, number: int | None) -> PartitionChanges:
        """Drain the partition's changes since the last call: what a checkpoint must write."""
        owned = self.partitions.get(number)
        if owned is None:
            return PartitionChanges(number, [], [])
        removed_log = owned.accounts.removed or []
        updated: list[AccountState] = []
        removed: list[str] = []
        for account_id in owned.dirty.union(removed_log):
            state = owned.accounts.get(account_id)
            if state is None:
                removed.append(account_id)
            else:
                updated.append(state)
        owned.dirty.clear()
        removed_log.clear()
        return PartitionChanges(number, updated, removed)

    def discard_changes(self) -> None:
        """No checkpoint backend (replay, changelog off): drop the change logs so they stay small."""
        for number in list(self.partitions):
            self.take_changes(number)

    @property
    def tracked_accounts(self) -> int:
        return sum(len(owned.accounts) for owned in self.partitions.values())

    @property
    def publishes_fingerprints(self) -> bool:
        """True when the coordination stage runs elsewhere (``detector coordinate``)."""
        return self.settings.coordination_mode == "topic"

    @property
    def accounts_seen(self) -> int:
        """Accounts tracked now plus those evicted (idle or over the cap) so far."""
        return sum(len(owned.accounts) + owned.accounts.evicted for owned in self.partitions.values())

    def _due_for_scoring(self, state: AccountState, at: float) -> bool:
        return (
            state.events_since_score >= self.settings.score_every_events
            or at - state.last_scored_at >= self.settings.score_every_seconds
        )

    def _score_and_decide(
        self, state: AccountState, at: float, partition: PartitionState
    ) -> tuple[list[Alert], Fingerprint | None]:
        features = state.features(self._half_life)
        window = state.window_totals(self._bucket_seconds)
        workload = (
            self.lifecycle.workload(state, at)
            if state.feedback is not None or self.lifecycle.static_declarations
            else None
        )
        assessment = self._assess(
            state, features, window[1], (at - window[0]) / 3600.0, at, workload=workload
        )
        alerts = self._decide(
            state, self.lifecycle.adjust(assessment, features), features, at, window, partition, workload
        )
        # Score before learn, and learn only from what is not suspicious. Each account teaches
        # the population at most once per sampling interval, so busy accounts do not outvote
        # quiet ones in the peer baselines.
        elapsed = at - state.last_scored_at
        suspicious = assessment.specific >= self.settings.coordination_suspicion
        # An end user's calls are its account's too: only accounts teach the population.
        if (
            state.end_user_id is None
            and at - state.population_learned_at >= self.settings.population_sample_seconds
        ):
            self.templates.learn_one(state.top_templates(), suspicious)
            network, user_agent, _, profile = state.infrastructure
            self.infrastructure.learn_one([network, user_agent, profile], suspicious)
            # Nor from an account whose own evidence is suspicious though its score is not yet
            # (a quiet campaign member): its shares would raise the peer means it is judged by.
            if assessment.score < self.policy.threshold and not suspicious:
                self.population.learn_one(features)
                if (form_means := prompt_form.means(state.form)) is not None:
                    self.form_reference.learn_one(form_means)
            state.population_learned_at = at
        if assessment.score < self.policy.threshold:
            baseline_half_life = self.settings.baseline_half_life_seconds
            learn_own_baseline(state, features["calls_per_hour"], elapsed, baseline_half_life)
            learn_own_shape(state, features, elapsed, baseline_half_life, self._half_life)
        state.events_since_score = 0
        state.last_scored_at = at
        return alerts, self._fingerprint(state, assessment, at, window)

    def _decide(  # noqa: PLR0917 - private; the caller's locals, named at the one call site
        self,
        state: AccountState,
        assessment: Assessment,
        features: dict[str, float],
        at: float,
        window: tuple[float, int, int],
        partition: PartitionState,
        workload: str | None,
    ) -> list[Alert]:
        """decide_one within the alert's life (pipeline/feedback.py): a verdict may suppress it,
        a subsided episode closes, a new episode supersedes (closes) the one before."""
        lifecycle = self.lifecycle
        episodes = partition.episodes
        out: list[Alert] = []
        emitted_at = self._clock()
        if state.alert_id is not None:
            lifecycle.note_evidence(state, assessment.score, at, episodes)
            closed = lifecycle.close_if_subsided(state, at, emitted_at, episodes)
            if closed is not None:
                out.append(closed)
        if lifecycle.suppressed(state, assessment, at):
            return out
        was_open = episode_open(state)
        before = (state.alert_id, state.alert_revision, state.alert_severity_rank)
        alert = decide_one(
            state,
            assessment,
            policy=self.policy,
            at=at,
            window=window,
            emitted_at=emitted_at,
            detector_version=self._version,
            episode_closed=state.feedback is not None and not state.feedback.episode_open,
        )
        if alert is None:
            return out
        if was_open and alert.alert_id != before[0]:
            out.append(
                lifecycle.closing(
                    state,
                    "superseded",
                    at,
                    emitted_at,
                    episodes,
                    alert_id=before[0],
                    revision=before[1] + 1,
                    severity_rank=before[2],
                )
            )
        lifecycle.note_alert(state, alert, features, episodes)
        # When the evidence began building: the lifetime evidence's start when that carried the
        # alert (decide_one set it), else when its own evidence first crossed the bar (the
        # window's start if it has not yet).
        extra: dict[str, object] = {}
        if alert.evidence_since is None:
            since = state.suspicious_since if state.suspicious_since >= 0 else window[0]
            extra["evidence_since"] = datetime.fromtimestamp(since, tz=UTC)
        if workload is not None:
            extra["declared_workload"] = workload
        out.append(alert.model_copy(update=extra))
        return out

    def _fingerprint(
        self, state: AccountState, assessment: Assessment, at: float, window: tuple[float, int, int]
    ) -> Fingerprint | None:
        # An end user's own campaign is named through its account; links across accounts are
        # made from the accounts themselves.
        if assessment.specific < self.settings.coordination_suspicion or state.end_user_id is not None:
            return None
        if state.suspicious_since < 0:
            state.suspicious_since = at
        network, user_agent, system_prompt, profile = state.infrastructure
        # Common phrasings shared by many ordinary accounts do not link anyone.
        keys = [
            ("template", key)
            for key in state.top_templates(FINGERPRINT_TEMPLATES)
            if not self.templates.is_common(key)
        ]
        common = self.infrastructure.is_common
        keys += [
            (kind, key)
            for kind, key in (("network", network), ("user_agent", user_agent))
            if key and not common(key)
        ]
        if system_prompt:
            keys.append(("system_prompt", system_prompt))
        # How the calls are made, unless many ordinary accounts make them so (an SDK's defaults).
        if profile and not common(profile):
            if state.org_id:
                keys.append(("profile", profile))
            else:
                # Org-less accounts that make their calls one rare way and turned suspicious in
                # the same hours: a hydra's members, even on networks that share nothing.
                onset = int(state.suspicious_since // ONSET_BUCKET_SECONDS)
                keys.append(("cohort", zlib.crc32(f"{profile}|{onset}".encode())))
        if state.org_id:
            keys.append(("org", zlib.crc32(state.org_id.encode())))
        return Fingerprint(
            account_id=state.account_id,
            org_id=state.org_id,
            at=at,
            suspicious_since=state.suspicious_since,
            specific=assessment.specific,
            requests=window[1],
            tokens=window[2],
            keys=tuple(keys),
        )

    def _assess(
        self,
        state: AccountState,
        features: dict[str, float],
        requests: int,
        hours: float,
        at: float,
        *,
        workload: str | None = None,
    ) -> Assessment:
        population = self.population
        # A declared workload is compared with its kind for the signals that kind shows.
        peer_means = declared_peer_means(population.peer_means_now(), workload)
        own_harvest_baseline = state.own_harvest_baseline if state.baseline_count >= 6 else -1.0
        # The prompt-form two-sample test, ranked among ordinary accounts (signals/form.py).
        if (form_means := prompt_form.means(state.form)) is not None and unwrapped_single_turn(
            features
        ) >= MIN_UNWRAPPED_SINGLE_TURN:
            rank, distance, deviations = self.form_reference.score_one(form_means, FORM_RANK_FROM)
            features["prompt_form_rank"] = rank
            features["prompt_form_distance"] = distance
            if rank > FORM_RANK_FROM:  # quoted by the reason only
                features["prompt_form_median_distance"] = self.form_reference.median_distance()
            if deviations:  # given where the rank is (for the reason's explanation)
                features.update(zip(prompt_form.DEVIATION_FEATURES, deviations, strict=True))
        raw = specific_terms(features, peer_means, own_harvest_baseline)
        raw_evidence = evidence(raw)
        # Lifetime evidence: a CUSUM of the raw evidence per call (made on its first excess).
        if state.cusum is None and raw_evidence > sequential.ALLOWANCE:
            state.cusum = sequential.new_cusum()
        if state.cusum is not None:
            sequential.update_one(state.cusum, raw_evidence, state.events_since_score, at)
        since = sequential.building_since(state.cusum)
        specific = reliable_terms(
            raw,
            features["recent_calls"],
            sequential.strength(state.cusum),
            sequential.statistic(state.cusum),
            (at - since) / 3600.0 if since >= 0 else 0.0,
        )
        # Amplifiers can at most double the specific evidence: when even that stays below the
        # alert threshold (most accounts, most of the time), the outcome is known without the
        # population's trees and ranks.
        if not can_reach(evidence(specific), self.policy.threshold):
            return replace(below_reach(specific), specific=raw_evidence, evidence_since=since)
        anomaly_rank, volume_rank, harvest_rank = population.score_one(features)
        peers = PeerView(
            anomaly_rank=anomaly_rank,
            volume_rank=volume_rank,
            harvest_rank=harvest_rank,
            own_surge_z=own_surge(state, features["calls_per_hour"]),
            own_shape_baseline=state.own_shape_baseline if state.baseline_count >= 6 else -1.0,
            own_harvest_baseline=own_harvest_baseline,
            peer_means=peer_means,
            # Only quoted by a reason when the account is above the 90th percentile itself.
            peer_volume_p90=population.volume_at(0.9) if volume_rank > 0.9 else 0.0,
            peer_harvest_p90=population.harvest_at(0.9) if harvest_rank > 0.9 else 0.0,
            window_requests=requests,
            window_hours=hours,
        )
        # Coordination reads the raw evidence: many quiet accounts together are the sample size
        # that one of them lacks.
        return replace(assess(features, peers, specific), specific=raw_evidence, evidence_since=since)
