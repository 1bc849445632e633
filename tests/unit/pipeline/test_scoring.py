"""Fused score: several coinciding signals alert, one signal alone does not."""

from __future__ import annotations

from detector.pipeline.scoring import PeerView, assess

PEERS = {
    "cot_elicitation_share": 0.05,
    "single_turn_share": 0.6,
    "instruction_style_share": 0.3,
    "near_output_cap_share": 0.05,
    "template_repeat_share": 0.1,
}


def view(volume_rank: float = 0.5, anomaly_rank: float = 0.5) -> PeerView:
    return PeerView(
        anomaly_rank=anomaly_rank,
        volume_rank=volume_rank,
        own_surge_z=0.0,
        peer_means=PEERS,
        peer_volume_p90=20.0,
        window_requests=500,
        window_hours=6.0,
    )


def features(**shares: float) -> dict[str, float]:
    base = dict(PEERS)
    base["calls_per_hour"] = 10.0
    base.update(shares)
    return base


def test_peer_like_account_scores_low() -> None:
    """An account that looks like its peers has a score near zero and no reasons."""
    result = assess(features(), view())
    assert result.score < 0.05 and result.reasons == ()


def test_chain_of_thought_alone_does_not_reach_the_threshold() -> None:
    """A tutoring app asking for step-by-step answers is not convicted by that alone."""
    result = assess(features(cot_elicitation_share=1.0), view())
    assert result.score < 0.6
    assert result.reasons[0].signal == "cot_elicitation_share"


def test_volume_alone_does_not_reach_the_threshold() -> None:
    """A heavy batch customer that otherwise looks ordinary stays under the threshold."""
    result = assess(features(calls_per_hour=5000.0), view(volume_rank=0.999))
    assert result.score < 0.6


def test_distillation_shape_scores_high_with_ordered_reasons() -> None:
    """Volume + step-by-step + instruction tasks + answers to the cap: high score, volume first."""
    result = assess(
        features(
            calls_per_hour=900.0,
            cot_elicitation_share=0.95,
            instruction_style_share=0.98,
            near_output_cap_share=0.9,
            template_repeat_share=0.9,
            single_turn_share=1.0,
        ),
        view(volume_rank=0.999, anomaly_rank=0.99),
    )
    assert result.score > 0.9
    weights = [r.signal for r in result.reasons]
    assert weights[0] == "calls_per_hour"
    assert "peers" in result.reasons[1].explanation
