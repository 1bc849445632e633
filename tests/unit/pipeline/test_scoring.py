"""Fused score: extraction-shaped evidence alerts; busy or odd alone does not."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.pipeline.scoring import (
    PeerView,
    assess,
    below_reach,
    can_reach,
    evidence,
    specific_terms,
)
from detector.pipeline.signals.form import DEVIATION_FEATURES

PEERS = {
    "cot_elicitation_share": 0.05,
    "single_turn_share": 0.6,
    "instruction_style_share": 0.3,
    "near_output_cap_share": 0.05,
    "template_repeat_share": 0.1,
    "distillation_shape": 0.01,
}


def view(volume_rank: float = 0.5, anomaly_rank: float = 0.5, harvest_rank: float = 0.5) -> PeerView:
    return PeerView(
        anomaly_rank=anomaly_rank,
        volume_rank=volume_rank,
        harvest_rank=harvest_rank,
        own_surge_z=0.0,
        own_shape_baseline=-1.0,
        own_harvest_baseline=-1.0,
        peer_means=PEERS,
        peer_volume_p90=20.0,
        peer_harvest_p90=20_000.0,
        window_requests=500,
        window_hours=6.0,
    )


def features(**values: float) -> dict[str, float]:
    base = dict(PEERS)
    base.update(
        calls_per_hour=10.0,
        output_tokens_per_hour=4000.0,
        log_completion_tokens=math.log1p(400),
        log_output_input_ratio=0.0,
        logit_bias_sweep=0.0,
        rhythm_regularity=0.0,
        harvest_call_share=0.05,
        distillation_call_share=0.0,
        distillation_calls_per_hour=0.0,
        distillation_run_after_history=0.0,
        recent_calls=60.0,
        history_hours=24.0,
    )
    base.update(values)
    base["distillation_shape"] = values.get(
        "distillation_shape",
        base["cot_elicitation_share"]
        * max(base["instruction_style_share"], base["template_repeat_share"])
        * base["single_turn_share"],
    )
    return base


def test_peer_like_account_scores_low() -> None:
    """An account that looks like its peers has a score near zero and no reasons."""
    result = assess(features(), view())
    assert result.score < 0.05
    assert result.reasons == ()


def test_asking_for_steps_and_writing_instructions_are_no_evidence_on_their_own() -> None:
    """A tutoring app or a reasoning power user asks for step-by-step answers to instruction-style
    tasks in conversations: those phrases are what the look-alikes share, so they count only
    inside the whole distillation pattern (single-turn, long answers), never alone."""
    result = assess(
        features(cot_elicitation_share=1.0, instruction_style_share=1.0, single_turn_share=0.4), view()
    )
    signals = {reason.signal for reason in result.reasons}
    assert result.score < 0.6
    assert not signals & {"cot_elicitation_share", "instruction_style_share"}
    # What they add is their part of the pattern: the same shape without the phrases scores alike.
    shape = 1.0 * 1.0 * 0.4
    plain = assess(features(single_turn_share=0.4, distillation_shape=shape), view())
    assert result.specific == plain.specific


def test_busy_and_unusual_without_extraction_shape_stays_low() -> None:
    """A heavy batch customer (top volume, anomalous, machine rhythm) with no extraction shape."""
    result = assess(
        features(calls_per_hour=5000.0, rhythm_regularity=0.95, output_tokens_per_hour=2e6),
        view(volume_rank=0.999, anomaly_rank=0.999, harvest_rank=0.999),
    )
    assert result.score < 0.1


def test_distillation_shape_scores_high_with_ordered_reasons() -> None:
    """Templated step-by-step tasks, single-turn, long answers, harvested in bulk: high score."""
    result = assess(
        features(
            calls_per_hour=900.0,
            output_tokens_per_hour=3e6,
            cot_elicitation_share=0.95,
            instruction_style_share=0.98,
            near_output_cap_share=0.5,
            template_repeat_share=0.9,
            single_turn_share=1.0,
            log_completion_tokens=math.log1p(3000),
            log_output_input_ratio=2.5,
        ),
        view(volume_rank=0.999, anomaly_rank=0.99, harvest_rank=0.999),
    )
    assert result.score > 0.95
    assert result.reasons[0].signal == "distillation_shape"
    assert all(later.signal != "distillation_shape" for later in result.reasons[1:])
    assert "peers" in result.reasons[0].explanation


def test_a_benchmark_rerun_at_temperature_zero_counts_only_for_what_it_could_harvest() -> None:
    """The same distillation shape, but 80 % of the calls repeat earlier prompts at temperature
    0 (harvest yield 0.2): each specific term counts a fifth, and the score falls below alerting."""
    shape = {
        "calls_per_hour": 900.0,
        "output_tokens_per_hour": 3e6,
        "cot_elicitation_share": 0.95,
        "instruction_style_share": 0.98,
        "template_repeat_share": 0.9,
        "single_turn_share": 1.0,
        "log_completion_tokens": math.log1p(3000),
        "log_output_input_ratio": 2.5,
    }
    fresh = specific_terms(features(**shape, harvest_yield=1.0), PEERS, -1.0)
    rerun = specific_terms(features(**shape, harvest_yield=0.2), PEERS, -1.0)
    assert [reason.signal for _, reason in rerun] == [reason.signal for _, reason in fresh]
    assert math.isclose(evidence(rerun), 0.2 * evidence(fresh))
    peers = view(volume_rank=0.999, anomaly_rank=0.99, harvest_rank=0.999)
    assert assess(features(**shape, harvest_yield=1.0), peers).score > 0.9
    assert assess(features(**shape, harvest_yield=0.2), peers).score < 0.6


def test_logit_probing_scores_high() -> None:
    """One-token answers with 20 top_logprobs and a sweep of logit_bias sizes is extraction."""
    result = assess(
        features(
            many_top_logprobs_share=1.0,
            max_tokens_one_share=1.0,
            logit_bias_share=0.9,
            logit_bias_sweep=1.9,
            single_turn_share=1.0,
            log_completion_tokens=math.log1p(1),
        ),
        view(anomaly_rank=0.999, volume_rank=0.99),
    )
    assert result.score > 0.9
    assert {r.signal for r in result.reasons[:2]} == {"logit_bias_sweep", "many_top_logprobs_share"}


def _own_history(harvest_baseline: float) -> PeerView:
    peers = view()
    return PeerView(
        **{**{f: getattr(peers, f) for f in PeerView.__slots__}, "own_harvest_baseline": harvest_baseline}
    )


def test_a_shift_from_the_own_past_needs_enough_calls_to_count() -> None:
    """A quiet account whose few recent calls happen to be long single-turn answers has not
    changed; a busy one whose share moved the same way has."""
    quiet = assess(features(harvest_call_share=0.3, recent_calls=8.0), _own_history(0.0))
    busy = assess(features(harvest_call_share=0.3, recent_calls=400.0), _own_history(0.0))
    assert "own_harvest_shift" not in {r.signal for r in quiet.reasons}
    assert "own_harvest_shift" in {r.signal for r in busy.reasons}
    assert busy.specific > quiet.specific


def test_one_call_that_harvests_is_no_shift_from_an_account_that_often_does() -> None:
    """An account that harvests on half its calls, scored on one new call that harvested (its
    decayed share reads 1.0): one call is as likely as not under its usual, so no shift. The same
    share over 60 calls is a shift."""
    one = assess(features(harvest_call_share=0.996, recent_calls=1.0), _own_history(0.5))
    many = assess(features(harvest_call_share=0.996, recent_calls=60.0), _own_history(0.5))
    assert "own_harvest_shift" not in {r.signal for r in one.reasons}
    assert "own_harvest_shift" in {r.signal for r in many.reasons}


def test_the_rate_of_distillation_pattern_calls_adds_nothing_beyond_their_shape() -> None:
    """An eval lab's benchmark run is hundreds of calls an hour of the whole pattern, as a
    distiller's first hour is: speed is what the amplifiers (volume, harvest volume) weigh, at
    most doubling the specific evidence, not a second specific term."""
    busy = {"distillation_calls_per_hour": 900.0, "distillation_call_share": 1.0}
    fast = assess(features(**busy, distillation_run_after_history=1.0), view())
    still = assess(features(), view())
    assert fast.specific == still.specific
    assert "distillation_calls_per_hour" not in {reason.signal for reason in fast.reasons}


def test_a_surge_of_harvested_answers_over_the_own_usual_share_is_evidence_without_text() -> None:
    """A router with a long past at ~2% harvested answers that now runs at 18% of 650 calls/h
    (a crawler among its users) gains specific evidence; the same shares in an account with
    only a couple of hours of past do not count as a surge (its "usual" is not one yet)."""
    shifted = {"harvest_call_share": 0.18, "calls_per_hour": 650.0, "recent_calls": 900.0}
    old = assess(features(**shifted, history_hours=13.0), _own_history(0.02))
    young = assess(features(**shifted, history_hours=2.0), _own_history(0.02))
    assert "own_harvest_surge" in {r.signal for r in old.reasons}
    assert "own_harvest_surge" not in {r.signal for r in young.reasons}
    assert old.specific > young.specific


# --- the short cut the worker takes: specific evidence first, the population only if it matters --
_UNIT = st.floats(0.0, 1.0)
_SHARES = ("cot_elicitation_share", "instruction_style_share", "template_repeat_share", "single_turn_share")


@settings(max_examples=400, deadline=None)
@given(
    shares=st.tuples(*[_UNIT for _ in _SHARES]),
    near_cap=_UNIT,
    log_completion=st.floats(0.0, 10.0),
    ratio=st.floats(-3.0, 6.0),
    distill_rate=st.floats(0.0, 500.0),
    calls=st.floats(0.0, 5000.0),
    harvest_share=_UNIT,
    own_harvest=st.floats(-1.0, 1.0),
    ranks=st.tuples(_UNIT, _UNIT, _UNIT),
    rhythm=_UNIT,
    surge=st.floats(0.0, 10.0),
    threshold=st.sampled_from([0.5, 0.7, 0.9]),
)
def test_an_account_below_reach_scores_below_the_threshold_whatever_its_peers_say(
    *,
    shares: tuple[float, ...],
    near_cap: float,
    log_completion: float,
    ratio: float,
    distill_rate: float,
    calls: float,
    harvest_share: float,
    own_harvest: float,
    ranks: tuple[float, float, float],
    rhythm: float,
    surge: float,
    threshold: float,
) -> None:
    values = dict(zip(_SHARES, shares, strict=True))
    account = features(
        **values,
        near_output_cap_share=near_cap,
        log_completion_tokens=log_completion,
        log_output_input_ratio=ratio,
        distillation_calls_per_hour=distill_rate,
        distillation_call_share=values["cot_elicitation_share"],
        calls_per_hour=calls,
        harvest_call_share=harvest_share,
        rhythm_regularity=rhythm,
    )
    peers = PeerView(
        anomaly_rank=ranks[0],
        volume_rank=ranks[1],
        harvest_rank=ranks[2],
        own_surge_z=surge,
        own_shape_baseline=0.0,
        own_harvest_baseline=own_harvest,
        peer_means=PEERS,
        peer_volume_p90=20.0,
        peer_harvest_p90=20_000.0,
        window_requests=500,
        window_hours=6.0,
        coordinated_accounts=12,
    )
    specific = specific_terms(account, PEERS, own_harvest)
    full = assess(account, peers)
    assert full.specific == evidence(specific)
    if not can_reach(evidence(specific), threshold):
        short = below_reach(specific)
        assert full.score < threshold and short.score < threshold
        assert short.specific == full.specific
    else:
        assert assess(account, peers, specific) == full


def test_strong_specific_evidence_is_within_reach_and_none_is_not() -> None:
    assert can_reach(3.0, 0.5)  # doubled: 6 > BIAS
    assert not can_reach(2.0, 0.5)  # doubled: 4 < BIAS
    assert not can_reach(0.0, 0.5)
    assert below_reach([]).score < 0.01


def test_prompts_written_unlike_any_ordinary_account_are_evidence_when_sent_unwrapped() -> None:
    """A query set's form, rarer than 999 in 1,000 ordinary accounts and sent one item per call,
    is evidence naming the features; below the 99th percentile, or read off a repeated wrapper
    (a benchmark harness), or in conversations, it is none."""
    form = dict.fromkeys(DEVIATION_FEATURES, 0.0)
    form.update(form_z_bare=6.0, form_z_function_words=-4.0, form_z_question_mark=2.0)
    base = dict(single_turn_share=1.0, prompt_form_distance=52.0, prompt_form_median_distance=1.2, **form)

    def weight(**values: float) -> float:
        terms = specific_terms(features(**{**base, **values}), PEERS, -1.0)
        return sum(w for w, reason in terms if reason.signal == "prompt_form")

    full = weight(prompt_form_rank=0.9995)
    assert full > 6.0
    assert 0.0 < weight(prompt_form_rank=0.995) < full
    assert weight(prompt_form_rank=0.98) == 0.0
    assert weight(prompt_form_rank=0.9995, template_repeat_share=1.0) == 0.0
    assert weight(prompt_form_rank=0.9995, single_turn_share=0.0) == 0.0
    (reason,) = [
        r
        for _, r in specific_terms(features(**base, prompt_form_rank=0.9995), PEERS, -1.0)
        if r.signal == "prompt_form"
    ]
    assert reason.observed == 52.0 and reason.baseline == 1.2
    assert "bare +6.0 sd" in reason.explanation and "question mark" not in reason.explanation
