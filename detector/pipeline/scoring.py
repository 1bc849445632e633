"""Fuse the signals of one account into one score in [0, 1] with its reasons.

Two kinds of evidence, added as log-odds:

* **specific** evidence says "this is what extraction looks like": the distiller's shape
  (single-turn, templated tasks that ask for reasoning, answers much longer than questions),
  logit probing (many ``top_logprobs``, ``logit_bias`` sweeps, one-token answers), grading
  prompts. Each share counts only for the part that exceeds the account's peers.
* **amplifying** evidence says "this is unusual": harvest volume, a population anomaly, a
  machine rhythm, a surge against the account's own past, a shift in what it asks, and
  coordination with other accounts. Busy or odd is not extraction, so amplifiers can at most
  double the specific evidence: a heavy batch customer or a benchmark run with no extraction
  shape stays low however busy it is.

The weights are priors from the public reports on distillation campaigns; each contributing
term becomes a reason with observed value and peer baseline, so an analyst sees why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detector.events import Reason
from detector.pipeline.signals import sequential
from detector.pipeline.signals.form import DEVIATION_FEATURES, TOWARDS_DATA

# Log-odds weight of a share signal per unit of excess over peers (share - peer share).
# Asking for step-by-step answers and writing instruction-style tasks are not in this list on
# their own: they are phrase lists, and the benign look-alikes (eval labs, tutoring products,
# reasoning power users, report generators) share them by definition. They count only inside
# the whole distillation pattern (``distillation_shape``).
SHARE_WEIGHTS: dict[str, float] = {
    "template_repeat_share": 0.5,
    "near_output_cap_share": 1.5,
    "rubric_grading_share": 1.5,
    "single_turn_share": 0.5,
    "many_top_logprobs_share": 2.0,
    "logit_bias_share": 0.5,
    "max_tokens_one_share": 0.8,
}
DISTILLATION_WEIGHT = 4.0  # reasoning-eliciting templated tasks, single-turn, with rich answers
HARVEST_SHAPE_WEIGHT = 2.5  # single-turn, answers far longer than questions (no text needed)
LOGIT_SWEEP_WEIGHT = 2.5
HARVEST_SURGE_WEIGHT = 4.0  # harvested answers/h above the own usual share (from 16/h, full at 64/h)
MIN_HISTORY_HOURS_FOR_SURGE = 6.0  # an account's "usual" needs that much past to be one
HARVEST_SHIFT_WEIGHT = 2.0  # harvest-call share far above the account's own history
HARVEST_VOLUME_WEIGHT = 3.0  # output tokens/h above the population's 90th percentile
CALL_VOLUME_WEIGHT = 1.0
ANOMALY_WEIGHT = 1.5  # HalfSpaceTrees rank above the 95th percentile
RHYTHM_WEIGHT = 1.0
SURGE_WEIGHT = 1.0  # call rate > 3 sigma above the account's own baseline
SHIFT_WEIGHT = 3.0  # distillation shape far above the account's own past
COORDINATION_WEIGHT = 3.0
SEQUENTIAL_WEIGHT = 6.5  # lifetime CUSUM of the specific evidence at full strength (signals/sequential.py)
SEQUENTIAL_START = sequential.START_AT
RELIABILITY_CALLS = 8.0
BARE_ITEM_WEIGHT = 7.0  # per unit of bare-item share above peers (beyond two standard errors)
MIN_SKETCHED_PROMPTS = 20  # one window's shares count n / (n + this) of their evidence
# Prompt form unlike ordinary accounts' (signals/form.py): nothing below this rank among them,
# full weight from one decade further (0.99 -> 0, 0.999 -> 1), in proportion to single-turn calls
# whose items are sent unwrapped.
FORM_RANK_FROM = 0.99
FORM_WEIGHT = 7.0
MIN_UNWRAPPED_SINGLE_TURN = 0.05  # the term could add at most 0.35 log-odds below this
# Log-odds at which the fused score is 0.5.
BIAS = 5.0
# The signals whose population mean the specific terms compare with (the population keeps these).
PEER_MEAN_SIGNALS: tuple[str, ...] = (*SHARE_WEIGHTS, "distillation_shape", "bare_item_share")

_DESCRIPTIONS: dict[str, str] = {
    "template_repeat_share": "of prompts reuse a repeated template",
    "near_output_cap_share": "of answers run to the max_tokens cap",
    "rubric_grading_share": "of prompts ask for grading against a rubric",
    "single_turn_share": "of calls are single-turn",
    "many_top_logprobs_share": "of calls ask for >= 10 top_logprobs",
    "logit_bias_share": "of calls send a logit_bias",
    "max_tokens_one_share": "of calls use max_tokens = 1",
}


@dataclass(frozen=True, slots=True)
class Assessment:
    """The fused score of one account and the evidence behind it, most important first."""

    score: float
    reasons: tuple[Reason, ...]
    specific: float = 0.0  # log-odds of extraction-specific evidence alone (for coordination)
    evidence_since: float = -1.0  # event time the lifetime evidence began building (-1 = none)


@dataclass(frozen=True, slots=True)
class PeerView:
    """What the population and the account's own past say, plus peer references for reasons."""

    anomaly_rank: float
    volume_rank: float
    harvest_rank: float
    own_surge_z: float
    own_shape_baseline: float
    peer_means: Mapping[str, float]
    own_harvest_baseline: float
    peer_volume_p90: float
    peer_harvest_p90: float
    window_requests: int
    window_hours: float
    coordinated_accounts: int = 0
    coordination_detail: str = ""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def answer_richness(features: dict[str, float]) -> float:
    """0 for short answers (< ~300 tokens on average), 1 for long ones (> ~1,500)."""
    return _clip((features["log_completion_tokens"] - math.log1p(300)) / (math.log1p(1500) - math.log1p(300)))


def harvest_shape(features: dict[str, float]) -> float:
    """Single-turn calls whose answers are long and far longer than the questions."""
    ratio = _clip(features["log_output_input_ratio"] / 2.0)
    return features["single_turn_share"] * answer_richness(features) * ratio


def _share_error(share: float, features: dict[str, float], usual: float | None = None) -> float:
    """Standard error of a decayed share resting on the account's recent calls.

    Against the account's ``usual`` share it is the larger of the two binomial errors: under
    "nothing changed" the share varies as the usual does, and a share read as 1.0 off one call
    has no small error (p(1-p) of the observed share alone would call it certain)."""
    calls = max(features["recent_calls"], 1.0)
    variance = share * (1.0 - share)
    if usual is not None and usual >= 0:
        variance = max(variance, usual * (1.0 - usual))
    return math.sqrt(max(variance, 0.0) / calls)


def _reason(signal: str, observed: float, baseline: float, explanation: str) -> Reason:
    return Reason(
        signal=signal, observed=round(observed, 4), baseline=round(baseline, 4), explanation=explanation
    )


def specific_terms(
    features: dict[str, float], peer_means: Mapping[str, float], own_harvest_baseline: float
) -> list[tuple[float, Reason]]:
    """The extraction-specific evidence alone: it needs no population model, only peer means and
    the account's own past, so the worker can look at it before paying for the rest."""
    terms: list[tuple[float, Reason]] = []
    for name, weight in SHARE_WEIGHTS.items():
        observed = features.get(name, 0.0)
        baseline = peer_means.get(name, 0.0)
        excess = observed - baseline
        if excess > 0.05:
            text = f"{observed:.0%} {_DESCRIPTIONS[name]}; peers: {baseline:.0%}"
            terms.append((weight * excess, _reason(name, observed, baseline, text)))
    shape = features["distillation_shape"] * answer_richness(features)
    peer_shape = peer_means.get("distillation_shape", 0.0)
    if shape - peer_shape > 0.05:
        text = (
            f"single-turn templated tasks asking for reasoning with long answers "
            f"(shape {shape:.2f}); peers: {peer_shape:.2f}"
        )
        terms.append(
            (
                DISTILLATION_WEIGHT * (shape - peer_shape),
                _reason("distillation_shape", shape, peer_shape, text),
            )
        )
    harvest = harvest_shape(features)
    if harvest > 0.1:
        completion = math.expm1(features["log_completion_tokens"])
        ratio = math.exp(features["log_output_input_ratio"])
        text = (
            f"single-turn calls whose answers average {completion:,.0f} tokens, "
            f"{ratio:.1f}x the prompt length"
        )
        terms.append((HARVEST_SHAPE_WEIGHT * harvest, _reason("answer_harvest_shape", harvest, 0.0, text)))
    harvest_share = features["harvest_call_share"]
    # A shift counts for what exceeds two standard errors of the share: a few calls of a quiet
    # account swing its shares widely without anything having changed.
    shift = (
        harvest_share
        - own_harvest_baseline
        - 2.0 * _share_error(harvest_share, features, own_harvest_baseline)
    )
    if own_harvest_baseline >= 0 and shift > 0.1:
        text = (
            f"{harvest_share:.0%} of calls now harvest long single-turn answers; this account's usual: "
            f"{own_harvest_baseline:.0%}"
        )
        terms.append(
            (
                HARVEST_SHIFT_WEIGHT * _clip(shift / 0.3),
                _reason("own_harvest_shift", harvest_share, own_harvest_baseline, text),
            )
        )
    # The same shift as a rate: how many more harvested answers per hour than the account's own
    # usual share would give. A router whose new "user" is a crawler shows it without any text.
    excess_rate = shift * features["calls_per_hour"]
    if (
        own_harvest_baseline >= 0
        and features["history_hours"] >= MIN_HISTORY_HOURS_FOR_SURGE
        and shift > 0.05
        and excess_rate > 16.0
    ):
        text = (
            f"{excess_rate:,.0f} more long single-turn answers per hour than this account's usual "
            f"share would give ({own_harvest_baseline:.0%} of calls before, {harvest_share:.0%} now)"
        )
        weight = HARVEST_SURGE_WEIGHT * _clip((math.log2(excess_rate) - 4.0) / 2.0)
        terms.append((weight, _reason("own_harvest_surge", excess_rate, 0.0, text)))
    # Items that ask nothing (passages, reviews, news sentences, word lists, dataset items under
    # a hidden system prompt), one per call: a query set or a crawl, not a person's requests.
    bare = features.get("bare_item_share", 0.0)
    sketched = features.get("sketched_prompts", 0.0)
    if sketched >= MIN_SKETCHED_PROMPTS:
        peer_bare = peer_means.get("bare_item_share", 0.0)
        bare_excess = bare - peer_bare - 2.0 * math.sqrt(max(bare * (1.0 - bare), 0.0) / sketched)
        if bare_excess > 0.1:
            text = (
                f"{bare:.0%} of its prompts are bare items that ask nothing (passages, sentences, word "
                f"lists), one per call; peers: {peer_bare:.0%}"
            )
            terms.append(
                (
                    BARE_ITEM_WEIGHT * bare_excess * features["single_turn_share"],
                    _reason("bare_item_share", bare, peer_bare, text),
                )
            )
    form_rank = features.get("prompt_form_rank", 0.0)
    if form_rank > FORM_RANK_FROM:
        # Decades of rarity beyond FORM_RANK_FROM: 0 at 0.99, 1 at 0.999.
        strength = _clip(math.log10((1.0 - FORM_RANK_FROM) / max(1.0 - form_rank, 1e-9)))
        deviations = sorted(
            (
                (features[name], name[len("form_z_") :])
                for name, direction in zip(DEVIATION_FEATURES, TOWARDS_DATA, strict=True)
                if direction * features[name] > 0
            ),
            key=lambda item: -abs(item[0]),
        )[:3]
        distance = features["prompt_form_distance"]
        median = features.get("prompt_form_median_distance", 0.0)
        text = (
            f"its prompts are written unlike ordinary accounts' (distance {distance:,.0f}, further than "
            f"{form_rank:.1%} of them; median account {median:,.0f}); most unlike in: "
            + ", ".join(f"{name.replace('_', ' ')} {z:+.1f} sd" for z, name in deviations)
        )
        # Items sent as they are, to read the model's answer to each, one per call. Where most
        # prompts share a repeated wrapper, the form read at their head is the wrapper's (one
        # choice of one operator: the template evidence judges it), and items wrapped in a
        # request for reasoning are a benchmark run or the distiller's shape (scored above): the
        # larger of those shares does not count.
        terms.append(
            (
                FORM_WEIGHT * strength * unwrapped_single_turn(features),
                _reason("prompt_form", distance, median, text),
            )
        )
    sweep = features["logit_bias_sweep"]
    if sweep > 0.5:
        text = f"logit_bias sizes sweep widely (spread {sweep:.2f} in log size), as in logit probing"
        terms.append(
            (LOGIT_SWEEP_WEIGHT * _clip((sweep - 0.5) / 1.0), _reason("logit_bias_sweep", sweep, 0.0, text))
        )
    # Calls that repeat an earlier prompt at deterministic sampling buy no new answer (a
    # benchmark re-run): the evidence counts only for the calls that could (signals/novelty.py).
    harvest_yield = features.get("harvest_yield", 1.0)
    if harvest_yield < 1.0:
        terms = [(weight * harvest_yield, reason) for weight, reason in terms]
    return terms


def unwrapped_single_turn(features: dict[str, float]) -> float:
    """The share of calls the prompt-form term counts for: single-turn, and neither under a
    repeated wrapper nor asking for reasoning (see ``specific_terms``). Below
    ``MIN_UNWRAPPED_SINGLE_TURN`` the worker does not even rank the account's form."""
    wrapped = max(features["cot_elicitation_share"], features["template_repeat_share"])
    return features["single_turn_share"] * (1.0 - wrapped)


def reliable_terms(
    specific: list[tuple[float, Reason]],
    recent_calls: float,
    sequential_strength: float,
    sequential_s: float,
    hours_building: float,
) -> list[tuple[float, Reason]]:
    """The specific evidence as the score counts it: one window's shares shrunk by how many calls
    they rest on, plus the lifetime (sequential) evidence.

    A quiet account's shares swing widely (three long answers in a row make an hour of
    "harvesting"), so one window counts in proportion n / (n + RELIABILITY_CALLS); persistence is
    what the sequential term measures, over the account's lifetime rather than one window.
    """
    reliability = recent_calls / (recent_calls + RELIABILITY_CALLS)
    terms = [(weight * reliability, reason) for weight, reason in specific]
    if sequential_strength > 0.0:
        text = (
            f"extraction-like evidence above the ordinary level, call after call, for {hours_building:,.1f} h "
            f"(cumulative excess {sequential_s:,.0f}; alerting from {SEQUENTIAL_START:,.0f})"
        )
        terms.append(
            (
                SEQUENTIAL_WEIGHT * sequential_strength,
                _reason("sequential_evidence", sequential_s, SEQUENTIAL_START, text),
            )
        )
    return terms


def _amplifying_terms(features: dict[str, float], peers: PeerView) -> list[tuple[float, Reason]]:
    terms: list[tuple[float, Reason]] = []
    if peers.harvest_rank > 0.9:
        output = features["output_tokens_per_hour"]
        ratio = _clip(features["log_output_input_ratio"] / 2.0)
        weight = HARVEST_VOLUME_WEIGHT * (peers.harvest_rank - 0.9) / 0.1 * ratio
        if weight > 0:
            text = (
                f"{output:,.0f} output tokens/h harvested, more than {peers.harvest_rank:.1%} of accounts; "
                f"peers p90: {peers.peer_harvest_p90:,.0f}/h"
            )
            terms.append((weight, _reason("output_tokens_per_hour", output, peers.peer_harvest_p90, text)))
    if peers.volume_rank > 0.9:
        calls = features["calls_per_hour"]
        text = (
            f"{peers.window_requests:,} calls in {peers.window_hours:.1f} h ({calls:,.0f}/h), busier than "
            f"{peers.volume_rank:.1%} of accounts; peers p90: {peers.peer_volume_p90:,.1f}/h"
        )
        terms.append(
            (
                CALL_VOLUME_WEIGHT * (peers.volume_rank - 0.9) / 0.1,
                _reason("calls_per_hour", calls, peers.peer_volume_p90, text),
            )
        )
    if peers.anomaly_rank > 0.95:
        text = f"overall usage pattern is rarer than {peers.anomaly_rank:.1%} of accounts (HalfSpaceTrees)"
        terms.append(
            (
                ANOMALY_WEIGHT * (peers.anomaly_rank - 0.95) / 0.05,
                _reason("population_anomaly", peers.anomaly_rank, 0.5, text),
            )
        )
    regularity = features["rhythm_regularity"]
    if regularity > 0.6:
        text = f"calls arrive at a machine-steady rhythm (regularity {regularity:.2f}; people: < 0.2)"
        terms.append(
            (
                RHYTHM_WEIGHT * _clip((regularity - 0.6) / 0.3),
                _reason("rhythm_regularity", regularity, 0.2, text),
            )
        )
    if peers.own_surge_z > 3.0:
        text = f"call rate is {peers.own_surge_z:.1f} standard deviations above this account's own history"
        terms.append(
            (
                SURGE_WEIGHT * _clip((peers.own_surge_z - 3.0) / 3.0),
                _reason("own_rate_surge", peers.own_surge_z, 0.0, text),
            )
        )
    shape = features["distillation_shape"]
    shape_shift = (
        shape - peers.own_shape_baseline - 2.0 * _share_error(shape, features, peers.own_shape_baseline)
    )
    if peers.own_shape_baseline >= 0 and shape_shift > 0.15:
        text = (
            f"share of reasoning-eliciting templated tasks rose to {shape:.0%} from this account's usual "
            f"{peers.own_shape_baseline:.0%}"
        )
        terms.append(
            (
                SHIFT_WEIGHT * _clip(shape_shift / 0.5),
                _reason("own_shape_shift", shape, peers.own_shape_baseline, text),
            )
        )
    if peers.coordinated_accounts >= 2:
        text = (
            f"acts in concert with {peers.coordinated_accounts} other accounts ({peers.coordination_detail})"
        )
        weight = COORDINATION_WEIGHT * _clip(math.log2(peers.coordinated_accounts) / 5.0)
        terms.append((weight, _reason("coordinated_accounts", peers.coordinated_accounts, 0.0, text)))
    return terms


def evidence(terms: Sequence[tuple[float, Reason]]) -> float:
    """Log-odds of a list of terms."""
    return sum(weight for weight, _ in terms)


def can_reach(specific_sum: float, threshold: float) -> bool:
    """Whether amplifiers could lift this specific evidence to ``threshold``: they add at most as
    much as the specific evidence itself, so below half the threshold's log-odds they cannot, and
    the population need not be asked (most accounts, most of the time)."""
    # (The margin covers rounding in the capped sum, which may exceed twice the specific by an ulp.)
    return _sigmoid(2.0 * specific_sum + 1e-9 - BIAS) >= threshold


def below_reach(specific: list[tuple[float, Reason]]) -> Assessment:
    """The assessment of an account whose specific evidence cannot reach an alert (``can_reach``
    is false): its score is the specific evidence's own; amplifiers, not computed, could not have
    made it alert."""
    specific_sum = evidence(specific)
    ordered = sorted(specific, key=lambda term: term[0], reverse=True)
    return Assessment(
        score=_sigmoid(specific_sum - BIAS),
        reasons=tuple(reason for weight, reason in ordered if weight > 0),
        specific=specific_sum,
    )


def assess(
    features: dict[str, float], peers: PeerView, specific: list[tuple[float, Reason]] | None = None
) -> Assessment:
    """Score one account from its features and its peers; pure, so it is tested without Kafka.

    ``specific`` is ``specific_terms`` of the same features and peers, when the caller has it.
    """
    if specific is None:
        specific = specific_terms(features, peers.peer_means, peers.own_harvest_baseline)
    amplifying = _amplifying_terms(features, peers)
    specific_sum = evidence(specific)
    amplifying_sum = evidence(amplifying)
    # Amplifiers scale down together when capped, so reasons keep their relative order.
    scale = 1.0 if amplifying_sum <= specific_sum or amplifying_sum == 0 else specific_sum / amplifying_sum
    terms = specific + [(weight * scale, reason) for weight, reason in amplifying]
    terms.sort(key=lambda term: term[0], reverse=True)
    total = specific_sum + amplifying_sum * scale
    return Assessment(
        score=_sigmoid(total - BIAS),
        reasons=tuple(reason for weight, reason in terms if weight > 0),
        specific=specific_sum,
    )
