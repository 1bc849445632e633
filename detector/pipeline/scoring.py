"""Fuse the signals of one account into one score in [0, 1] with its reasons.

Each signal contributes evidence only where the account exceeds its peers (so a share everybody
has, such as single-turn calls on an API, weighs little) and the contributions add as log-odds.
The weights are priors from the public reports on distillation campaigns; they are few, named,
and each appears in the alert as a reason with observed value and peer baseline, so an analyst
can see why an account scored as it did. One signal alone never reaches the alert threshold:
chain-of-thought phrasing or heavy volume alone is what honest tutoring apps and batch customers
look like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detector.events import Reason

# Log-odds weight of a share signal per unit of excess over peers (share - peer share).
SHARE_WEIGHTS: dict[str, float] = {
    "cot_elicitation_share": 2.0,
    "instruction_style_share": 1.5,
    "template_repeat_share": 1.2,
    "near_output_cap_share": 1.5,
    "rubric_grading_share": 1.5,
    "single_turn_share": 1.0,
    "low_temperature_share": 0.5,
    "many_top_logprobs_share": 2.5,
    "logit_bias_share": 2.5,
    "max_tokens_one_share": 1.0,
}
VOLUME_WEIGHT = 3.0  # calls/h above the population's 90th percentile, scaled to the top
ANOMALY_WEIGHT = 2.0  # HalfSpaceTrees rank above the 95th percentile
SURGE_WEIGHT = 1.5  # call rate > 3 sigma above the account's own baseline
# Log-odds at which the fused score is 0.5; with the weights above it takes several coinciding
# signals to get there.
BIAS = 5.0

_DESCRIPTIONS: dict[str, str] = {
    "cot_elicitation_share": "of prompts ask for step-by-step reasoning",
    "instruction_style_share": "of prompts are instruction-dataset style tasks",
    "template_repeat_share": "of prompts reuse a repeated template",
    "near_output_cap_share": "of answers run to the max_tokens cap",
    "rubric_grading_share": "of prompts ask for grading against a rubric",
    "single_turn_share": "of calls are single-turn",
    "low_temperature_share": "of calls use temperature <= 0.2",
    "many_top_logprobs_share": "of calls ask for >= 5 top_logprobs",
    "logit_bias_share": "of calls send a logit_bias",
    "max_tokens_one_share": "of calls use max_tokens = 1",
}


@dataclass(frozen=True, slots=True)
class Assessment:
    """The fused score of one account and the evidence behind it, most important first."""

    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class PeerView:
    """What the population model says about an account, plus the peer references for reasons."""

    anomaly_rank: float
    volume_rank: float
    own_surge_z: float
    peer_means: dict[str, float]
    peer_volume_p90: float
    window_requests: int
    window_hours: float


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


def assess(features: dict[str, float], peers: PeerView) -> Assessment:
    """Score one account from its features and its peers; pure, so it is tested without Kafka."""
    terms: list[tuple[float, Reason]] = []
    for name, weight in SHARE_WEIGHTS.items():
        observed = features.get(name, 0.0)
        baseline = peers.peer_means.get(name, 0.0)
        excess = observed - baseline
        if excess > 0.05:
            terms.append(
                (
                    weight * excess,
                    Reason(
                        signal=name,
                        observed=round(observed, 4),
                        baseline=round(baseline, 4),
                        explanation=f"{observed:.0%} {_DESCRIPTIONS[name]}; peers: {baseline:.0%}",
                    ),
                )
            )
    if peers.volume_rank > 0.9:
        calls = features["calls_per_hour"]
        terms.append(
            (
                VOLUME_WEIGHT * (peers.volume_rank - 0.9) / 0.1,
                Reason(
                    signal="calls_per_hour",
                    observed=round(calls, 2),
                    baseline=round(peers.peer_volume_p90, 2),
                    explanation=(
                        f"{peers.window_requests:,} calls in {peers.window_hours:.1f} h "
                        f"({calls:,.0f}/h), busier than {peers.volume_rank:.1%} of accounts; "
                        f"peers p90: {peers.peer_volume_p90:,.1f}/h"
                    ),
                ),
            )
        )
    if peers.anomaly_rank > 0.95:
        terms.append(
            (
                ANOMALY_WEIGHT * (peers.anomaly_rank - 0.95) / 0.05,
                Reason(
                    signal="population_anomaly",
                    observed=round(peers.anomaly_rank, 4),
                    baseline=0.5,
                    explanation=(
                        f"overall usage pattern is rarer than {peers.anomaly_rank:.1%} of accounts "
                        "(HalfSpaceTrees over all signals)"
                    ),
                ),
            )
        )
    if peers.own_surge_z > 3.0:
        terms.append(
            (
                SURGE_WEIGHT * min(1.0, (peers.own_surge_z - 3.0) / 3.0),
                Reason(
                    signal="own_rate_surge",
                    observed=round(peers.own_surge_z, 2),
                    baseline=0.0,
                    explanation=(
                        f"call rate is {peers.own_surge_z:.1f} standard deviations above "
                        "this account's own history"
                    ),
                ),
            )
        )
    terms.sort(key=lambda term: term[0], reverse=True)
    evidence = sum(weight for weight, _ in terms)
    return Assessment(score=_sigmoid(evidence - BIAS), reasons=tuple(reason for _, reason in terms))
