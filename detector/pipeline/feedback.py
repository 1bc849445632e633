"""An alert's life: episodes that close, analyst verdicts, workload declarations, and a learner
that takes the analysts' side within bounds. Pure: no Kafka, no clock, no environment.

* **Closing.** An open episode closes with a revision of the same ``alert_id`` (``status:
  closed``) when its evidence subsided (no score at or above the threshold for
  ``close_after_seconds`` of event time: seen when the account is next scored, or by a sweep over
  the partition's event-time watermark, so that an account that went quiet closes too), when an
  analyst resolves it, or when a new episode of the same account supersedes it.
* **Verdicts.** ``false_positive`` and ``allowlisted`` close the episode and suppress the
  account's own alerts until its behaviour changes materially — its score's log-odds rise by
  ``verdict_rescore_margin`` above the verdicted score, or its top signal is one the verdict did
  not see — or the verdict lapses (``until``). Campaign alerts are never suppressed: the
  account keeps publishing fingerprints, so a verdict cannot silence a campaign that other
  members still show.
* **Feedback learner.** ``FeedbackModel`` (river logistic regression over the alert's features)
  learns from ``confirmed`` (1) and ``false_positive`` (0) verdicts; its opinion on a new
  assessment is a log-odds term capped at ``feedback_max_logodds`` that shows as the reason
  ``analyst_feedback``. Score before learn: a verdict teaches it only after the alert was scored.
* **Declarations.** A declared workload's legitimate signals are compared with that kind's
  typical values rather than the population's (``DECLARED_BASELINES``); the signals no
  legitimate workload shows are never discounted, so a declared router with a hydra inside still
  alerts.

Everything that shapes alerts lives in ``AccountFeedback`` on the account (``state.feedback``,
checkpointed with it by ``snapshot.py``); the learner is rebuilt from the labelled examples of
restored accounts.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

from river import linear_model, optim

from detector.events import Alert, AlertWindow, Reason, Severity
from detector.pipeline.decide import CATEGORY, AlertPolicy
from detector.pipeline.scoring import Assessment
from detector.pipeline.state import AccountState, AccountStore
from detector.settings import Settings
from detector.verdicts import AnalystVerdict, VerdictKind, WorkloadDeclaration

CloseReason = Literal["subsided", "false_positive", "allowlisted", "confirmed_resolved", "superseded"]
# Sweeps over open episodes run at most once per this much event time of a partition.
SWEEP_EVERY_SECONDS = 60.0
_SEVERITY_BY_RANK = {s.rank: s for s in Severity}
_MAX_LEARNED_IDS = 100_000
RESCORE_CEILING = 0.999  # scores above this are one level for lifting a verdict (``suppressed``)

# What a declared workload legitimately shows, as the peer value its signals are compared with
# (a share at or below it is no evidence). The distillation pattern itself
# (``distillation_shape``), harvest surges against the account's own past and logit probing are
# in no list: no declared workload explains them. (Step-by-step asks and instruction-style tasks
# are no evidence for anyone on their own: see ``scoring.SHARE_WEIGHTS``.)
DECLARED_BASELINES: dict[str, dict[str, float]] = {
    # Benchmarks: one fixed template, single-turn, often step-by-step items and graded answers.
    "eval_harness": {
        "template_repeat_share": 1.0,
        "single_turn_share": 1.0,
        "rubric_grading_share": 0.5,
        "max_tokens_one_share": 0.5,
    },
    # Offline jobs: templated single-turn requests, long outputs up to the cap.
    "batch_job": {
        "template_repeat_share": 1.0,
        "single_turn_share": 1.0,
        "near_output_cap_share": 0.5,
    },
    # Many end users behind one account: single-turn traffic of every kind.
    "router": {"single_turn_share": 1.0},
    # Students ask for worked solutions to exercise-style tasks.
    "tutoring_product": {
        "template_repeat_share": 0.6,
        "single_turn_share": 0.8,
    },
    # Labelling: rubric grading over templated items is the job.
    "data_labelling": {"rubric_grading_share": 1.0, "template_repeat_share": 1.0, "single_turn_share": 1.0},
}

# The alert's features the learner sees, in a fixed order (rates as logs, so scales are alike).
FEEDBACK_FEATURES: tuple[str, ...] = (
    "cot_elicitation_share",
    "instruction_style_share",
    "template_repeat_share",
    "near_output_cap_share",
    "rubric_grading_share",
    "single_turn_share",
    "many_top_logprobs_share",
    "logit_bias_share",
    "max_tokens_one_share",
    "duplicate_prompt_share",
    "harvest_call_share",
    "distillation_call_share",
    "distillation_shape",
    "distillation_run_after_history",
    "rhythm_regularity",
    "text_coverage",
    "log_calls_per_hour",
    "log_output_tokens_per_hour",
    "log_distillation_calls_per_hour",
)


def feedback_vector(features: Mapping[str, float]) -> tuple[float, ...]:
    """The learner's view of an account's features (what is stored with an episode)."""
    out = []
    for name in FEEDBACK_FEATURES:
        if name.startswith("log_"):
            out.append(round(math.log1p(max(0.0, features.get(name[4:], 0.0))) / 5.0, 6))
        else:
            out.append(round(features.get(name, 0.0), 6))
    return tuple(out)


@dataclass(slots=True)
class AccountFeedback:
    """The account's alert episode beyond ``AccountState``'s bookkeeping, its verdict and its
    declaration. Only accounts that alerted or were told about carry one."""

    episode_open: bool = False
    evidence_at: float = -math.inf  # last event time the account scored at or above the threshold
    episode_start: float = 0.0
    alert_score: float = 0.0
    alert_requests: int = 0
    alert_tokens: int = 0
    alert_signals: str = ""  # top signals of the last revision, comma-separated
    alert_vector: tuple[float, ...] = ()  # feedback_vector at the last revision
    alert_verdict: str | None = None  # verdict already published on the current/last episode
    verdict: str | None = None  # the suppressing verdict in force (false_positive / allowlisted)
    verdict_until: float = math.inf
    verdict_score: float = 0.0
    verdict_signals: str = ""
    label: int = -1  # learned example: 1 confirmed, 0 false positive, -1 none
    label_vector: tuple[float, ...] = ()
    label_alert_id: str | None = None
    workload: str | None = None
    workload_until: float = -math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``snapshot.py`` (infinities included; it writes JSON with them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccountFeedback:
        """Rebuild from ``to_dict`` output written by this or another version: unknown keys are
        skipped, missing ones keep defaults, a value of the wrong type raises ``ValueError``."""
        feedback = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            default = getattr(feedback, f.name)
            if isinstance(default, tuple):
                if not isinstance(value, list | tuple) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in value
                ):
                    raise ValueError(f"{f.name}: not a list of numbers")
                value = tuple(float(v) for v in value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name}: not a boolean")
            elif isinstance(default, float):
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"{f.name}: not a number")
                value = float(value)
            elif isinstance(default, int):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{f.name}: not an integer")
            elif value is not None and not isinstance(value, str):
                raise ValueError(f"{f.name}: not a string")
            setattr(feedback, f.name, value)
        return feedback


def feedback_of(state: AccountState) -> AccountFeedback:
    """The account's feedback record, created on first need."""
    if state.feedback is None:
        state.feedback = AccountFeedback()
        if state.alert_id is not None:  # state from before episodes were tracked: treat as open
            state.feedback.episode_open = True
            state.feedback.evidence_at = state.last_alert_at
            state.feedback.episode_start = state.last_alert_at
    return state.feedback


def episode_open(state: AccountState) -> bool:
    if state.alert_id is None:
        return False
    return state.feedback is None or state.feedback.episode_open


def begin_traffic(state: AccountState, org_id: str | None, at: float) -> None:
    """An account first told about by a verdict or declaration, now sending its first event: its
    history starts here (not at the verdict), so rates are not diluted by the time before."""
    kept = state.feedback
    AccountState.__init__(state, state.account_id, org_id, at)
    state.feedback = kept


def declared_peer_means(peer_means: Mapping[str, float], workload: str | None) -> Mapping[str, float]:
    """Peer means as the declared kind sees them: the higher of the population's and the kind's."""
    if workload is None:
        return peer_means
    kind = DECLARED_BASELINES.get(workload)
    if not kind:
        return peer_means
    merged = dict(peer_means)
    for name, value in kind.items():
        merged[name] = max(merged.get(name, 0.0), value)
    return merged


class FeedbackModel:
    """River logistic regression over ``FEEDBACK_FEATURES``: confirmed = 1, false positive = 0.

    ``score_one`` is its opinion as a capped log-odds term (0 until it has seen
    ``min_examples`` verdicts of which at least one of each kind), so analysts can move a score
    but never decide it alone.
    """

    def __init__(self, max_logodds: float, min_examples: int) -> None:
        # No intercept: with mostly confirmed verdicts, a learned intercept would lift every
        # account near the threshold, benign ones too. Without it the term is the features' alone
        # (0 for behaviour that shares nothing with the verdicted alerts).
        self._model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1), l2=0.001, intercept_lr=0.0)
        self._cap = max_logodds
        self._min = min_examples
        self.counts = [0, 0]
        self._learned: OrderedDict[str, None] = OrderedDict()

    @property
    def ready(self) -> bool:
        return self.counts[0] >= 1 and self.counts[1] >= 1 and sum(self.counts) >= self._min

    def score_one(self, vector: tuple[float, ...]) -> float:
        if not self.ready or self._cap == 0:
            return 0.0
        x = dict(zip(FEEDBACK_FEATURES, vector, strict=True))
        p = float(self._model.predict_proba_one(x).get(True, 0.5))  # type: ignore[no-untyped-call]
        p = min(max(p, 1e-6), 1 - 1e-6)
        term = math.log(p / (1.0 - p))
        return max(-self._cap, min(self._cap, term))

    def learn_one(self, vector: tuple[float, ...], confirmed: bool, alert_id: str) -> bool:
        """Learn one verdict once (by ``alert_id``); True when it was new."""
        if alert_id in self._learned or len(vector) != len(FEEDBACK_FEATURES):
            return False
        self._learned[alert_id] = None
        if len(self._learned) > _MAX_LEARNED_IDS:
            self._learned.popitem(last=False)
        x = dict(zip(FEEDBACK_FEATURES, vector, strict=True))
        self.counts[int(confirmed)] += 1
        # Classes weighted to balance (analysts confirm far more than they refute, or the other
        # way round), and a few passes: verdicts are rare, one SGD step each would barely move it.
        weight = sum(self.counts) / (2.0 * self.counts[int(confirmed)])
        for _ in range(5):
            self._model.learn_one(x, confirmed, w=weight)
        return True


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@dataclass(slots=True)
class EpisodeIndex:
    """Open episodes of one partition (account id → last evidence time) and its watermark: what
    the sweep needs to close the episodes of accounts that send nothing more."""

    open: dict[str, float] = field(default_factory=dict)
    watermark: float = 0.0
    swept_at: float = -math.inf

    @classmethod
    def of(cls, accounts: Iterable[AccountState]) -> EpisodeIndex:
        index = cls()
        for state in accounts:
            index.watermark = max(index.watermark, state.last_seen)
            if episode_open(state):
                index.open[state.account_id] = feedback_of(state).evidence_at
        return index


class AlertLifecycle:
    """Decides the revisions that are not a new score: closing, verdicts, suppression, and the
    learner's capped term. One per ``Detector``."""

    def __init__(self, settings: Settings, policy: AlertPolicy, detector_version: str) -> None:
        self.close_after = settings.close_after_seconds
        self.margin = settings.verdict_rescore_margin
        self.allowlist_default = settings.allowlist_default_seconds
        self.policy = policy
        self.version = detector_version
        self.model = FeedbackModel(settings.feedback_max_logodds, settings.feedback_min_examples)
        self._cap = settings.feedback_max_logodds
        self.static_declarations: dict[str, WorkloadDeclaration] = {}
        # Scores that the learner's term could carry across the threshold (the rest skip it).
        t = min(max(policy.threshold, 1e-6), 1 - 1e-6)
        self._floor = 1.0 / (1.0 + math.exp(-(math.log(t / (1 - t)) - settings.feedback_max_logodds)))

    # --- declarations -------------------------------------------------------------------------
    def workload(self, state: AccountState, at: float) -> str | None:
        """The workload declared for the account at event time ``at`` (topic first, then file)."""
        fb = state.feedback
        if fb is not None and fb.workload is not None and at < fb.workload_until:
            return fb.workload
        declared = self.static_declarations.get(state.account_id)
        if declared is not None and at < declared.until.timestamp():
            return declared.workload
        return None

    # --- the learner's term ---------------------------------------------------------------------
    def adjust(self, assessment: Assessment, features: Mapping[str, float]) -> Assessment:
        """The assessment with the learner's capped log-odds term added (reason ``analyst_feedback``)."""
        if not self.model.ready or assessment.score < self._floor:
            return assessment
        vector = feedback_vector(features)
        term = self.model.score_one(vector)
        if abs(term) < 0.05:
            return assessment
        p = min(max(assessment.score, 1e-9), 1 - 1e-9)
        logit = math.log(p / (1 - p)) + term
        score = 1.0 / (1.0 + math.exp(-logit))
        direction = "like" if term > 0 else "unlike"
        reason = Reason(
            signal="analyst_feedback",
            observed=round(term, 4),
            baseline=0.0,
            explanation=f"looks {direction} alerts analysts confirmed (log-odds {term:+.2f}, capped at "
            f"±{self._cap:g}, from {sum(self.model.counts)} verdicts)",
        )
        reasons = (*assessment.reasons, reason) if term < 0 else (reason, *assessment.reasons)
        return Assessment(score=score, reasons=reasons, specific=assessment.specific)

    # --- suppression --------------------------------------------------------------------------
    def suppressed(self, state: AccountState, assessment: Assessment, at: float) -> bool:
        """True while a false-positive/allowlist verdict holds; lifts it (for good) on expiry or a
        material change of behaviour."""
        fb = state.feedback
        if fb is None or fb.verdict is None:
            return False
        if at >= fb.verdict_until:
            fb.verdict = None
            return False
        if self.policy.severity(assessment.score) is None:
            return True  # nothing to alert on anyway; keep the verdict
        top = assessment.reasons[0].signal if assessment.reasons else ""
        new_signal = top not in fb.verdict_signals.split(",") and top != "analyst_feedback"
        # Log-odds beyond RESCORE_CEILING's are not compared: lifetime evidence keeps adding to an
        # unchanged behaviour's score, so above it a rise says "the same, for longer", not "new".
        rescored = _logit(min(assessment.score, RESCORE_CEILING))
        if rescored >= _logit(min(fb.verdict_score, RESCORE_CEILING)) + self.margin or new_signal:
            fb.verdict = None
            return False
        return True

    # --- alerts -----------------------------------------------------------------------------------
    def note_alert(
        self, state: AccountState, alert: Alert, features: Mapping[str, float], index: EpisodeIndex
    ) -> None:
        """Remember what a new revision said, for its closing revision and for a later verdict."""
        fb = feedback_of(state)
        at = alert.detected_at.timestamp()
        if alert.revision == 1:
            fb.episode_start = alert.window.start.timestamp()
            fb.alert_verdict = None
        fb.episode_open = True
        fb.evidence_at = at
        fb.alert_score = alert.score
        fb.alert_requests = alert.window.requests
        fb.alert_tokens = alert.window.tokens
        fb.alert_signals = ",".join(r.signal for r in alert.reasons[:3])
        fb.alert_vector = feedback_vector(features)
        index.open[state.account_id] = at

    def note_evidence(self, state: AccountState, score: float, at: float, index: EpisodeIndex) -> None:
        """A score at or above the threshold keeps an open episode alive."""
        if score >= self.policy.threshold and episode_open(state):
            feedback_of(state).evidence_at = at
            index.open[state.account_id] = at

    def closing(
        self,
        state: AccountState,
        reason: CloseReason,
        at: float,
        emitted_at: datetime,
        index: EpisodeIndex,
        *,
        alert_id: str | None = None,
        revision: int | None = None,
        severity_rank: int | None = None,
    ) -> Alert:
        """The closing revision of the account's episode (the current one unless named)."""
        fb = feedback_of(state)
        explanation = {
            "subsided": f"no score at or above the alert threshold for {self.close_after / 3600:.1f} h",
            "false_positive": "an analyst marked this alert a false positive",
            "allowlisted": "an analyst allowlisted this account",
            "confirmed_resolved": "confirmed by an analyst; the activity has since subsided",
            "superseded": "a new episode of this account continues it",
        }[reason]
        if alert_id is None:
            assert state.alert_id is not None
            state.alert_revision += 1
            alert_id, revision, severity_rank = (
                state.alert_id,
                state.alert_revision,
                state.alert_severity_rank,
            )
            fb.episode_open = False
            index.open.pop(state.account_id, None)
        assert revision is not None and severity_rank is not None
        return Alert(
            alert_id=alert_id,
            revision=revision,
            account_id=state.account_id,
            org_id=state.org_id,
            detected_at=_utc(at),
            emitted_at=emitted_at,
            score=fb.alert_score,
            severity=_SEVERITY_BY_RANK.get(severity_rank, Severity.LOW),
            category=CATEGORY,
            reasons=[Reason(signal="episode_closed", observed=0.0, baseline=0.0, explanation=explanation)],
            window=AlertWindow(
                start=_utc(min(fb.episode_start, at)),
                end=_utc(at),
                requests=fb.alert_requests,
                tokens=fb.alert_tokens,
            ),
            detector_version=self.version,
            status="closed",
            status_reason=reason,
            verdict=_verdict(fb.alert_verdict),
            declared_workload=self.workload(state, at),
        )

    def close_if_subsided(
        self, state: AccountState, at: float, emitted_at: datetime, index: EpisodeIndex
    ) -> Alert | None:
        if not episode_open(state):
            return None
        fb = feedback_of(state)
        if at - fb.evidence_at < self.close_after:
            return None
        reason: CloseReason = "confirmed_resolved" if fb.alert_verdict == "confirmed" else "subsided"
        return self.closing(state, reason, at, emitted_at, index)

    def sweep(self, accounts: AccountStore, index: EpisodeIndex, emitted_at: datetime) -> list[Alert]:
        """Close every open episode of the partition whose evidence is older than the close delay
        at the partition's watermark (accounts that went quiet are never scored again)."""
        at = index.watermark
        if at - index.swept_at < SWEEP_EVERY_SECONDS:
            return []
        index.swept_at = at
        out = []
        for account_id, evidence_at in list(index.open.items()):
            if at - evidence_at < self.close_after:
                continue
            state = accounts.get(account_id)
            if state is None:  # evicted meanwhile
                index.open.pop(account_id, None)
                continue
            closed = self.close_if_subsided(state, at, emitted_at, index)
            if closed is not None:
                out.append(closed)
            else:
                index.open.pop(account_id, None)
        return out

    # --- verdicts and declarations ------------------------------------------------------------------
    def apply(
        self,
        state: AccountState,
        message: AnalystVerdict | WorkloadDeclaration,
        at: float,
        emitted_at: datetime,
        index: EpisodeIndex,
    ) -> list[Alert]:
        """Fold one verdict or declaration into the account; returns the revisions it causes.

        Idempotent: a redelivered verdict finds its episode already closed and its example
        already learned, and emits nothing."""
        fb = feedback_of(state)
        if isinstance(message, WorkloadDeclaration):
            fb.workload = message.workload
            fb.workload_until = message.until.timestamp()
            return []
        verdict = message.verdict
        current = message.alert_id is None or message.alert_id == state.alert_id
        # Learn from the episode's features (score before learn: they were scored at the alert).
        if verdict in ("confirmed", "false_positive") and current and fb.alert_vector:
            alert_id = state.alert_id or ""
            confirmed = verdict == "confirmed"
            if fb.label_alert_id != alert_id or fb.label != int(confirmed):
                fb.label, fb.label_vector, fb.label_alert_id = int(confirmed), fb.alert_vector, alert_id
            self.model.learn_one(fb.label_vector, confirmed, f"{alert_id}:{int(confirmed)}")
        if verdict in ("false_positive", "allowlisted"):
            fb.verdict = verdict
            fb.verdict_score = fb.alert_score if current and state.alert_id is not None else 1.0
            fb.verdict_signals = fb.alert_signals if current else ""
            if message.until is not None:
                fb.verdict_until = message.until.timestamp()
            elif verdict == "allowlisted":
                fb.verdict_until = at + self.allowlist_default
            else:
                fb.verdict_until = math.inf
        else:
            fb.verdict = None  # a confirmation lifts an earlier suppression
        if not current or state.alert_id is None or fb.alert_verdict == verdict:
            return []
        fb.alert_verdict = verdict
        if verdict == "confirmed":
            if not episode_open(state):
                return []
            state.alert_revision += 1
            return [self._revision_with_verdict(state, at, emitted_at)]
        reason: CloseReason = "false_positive" if verdict == "false_positive" else "allowlisted"
        return [self.closing(state, reason, at, emitted_at, index)]

    def _revision_with_verdict(self, state: AccountState, at: float, emitted_at: datetime) -> Alert:
        fb = feedback_of(state)
        assert state.alert_id is not None
        return Alert(
            alert_id=state.alert_id,
            revision=state.alert_revision,
            account_id=state.account_id,
            org_id=state.org_id,
            detected_at=_utc(at),
            emitted_at=emitted_at,
            score=fb.alert_score,
            severity=_SEVERITY_BY_RANK.get(state.alert_severity_rank, Severity.LOW),
            category=CATEGORY,
            reasons=[
                Reason(
                    signal="analyst_verdict",
                    observed=1.0,
                    baseline=0.0,
                    explanation="an analyst confirmed this alert",
                )
            ],
            window=AlertWindow(
                start=_utc(min(fb.episode_start, at)),
                end=_utc(at),
                requests=fb.alert_requests,
                tokens=fb.alert_tokens,
            ),
            detector_version=self.version,
            verdict="confirmed",
            declared_workload=self.workload(state, at),
        )

    def relearn(self, accounts: Iterable[AccountState]) -> int:
        """Teach the learner the labelled examples of restored accounts (its checkpoint)."""
        learned = 0
        for state in accounts:
            fb = state.feedback
            if fb is not None and fb.label >= 0 and fb.label_alert_id is not None:
                learned += self.model.learn_one(
                    fb.label_vector, bool(fb.label), f"{fb.label_alert_id}:{fb.label}"
                )
        return learned


def _verdict(value: str | None) -> VerdictKind | None:
    return cast("VerdictKind", value) if value in get_args(VerdictKind) else None


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))
