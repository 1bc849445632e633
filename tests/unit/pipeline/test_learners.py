"""The population learners: template prevalence and the population's peer means."""

from __future__ import annotations

from detector.pipeline.learners import (
    COMMON_TEMPLATE_MIN_SAMPLES,
    HST_FEATURES,
    USUAL_WARMUP_SCORINGS,
    PopulationModel,
    TemplatePrevalence,
    learn_own_shape,
)
from detector.pipeline.state import AccountState


def test_a_phrasing_many_ordinary_accounts_share_is_common() -> None:
    prevalence = TemplatePrevalence()
    for _ in range(int(COMMON_TEMPLATE_MIN_SAMPLES)):
        prevalence.learn_one([11], suspicious=False)
    prevalence.learn_one([11], suspicious=True)
    assert prevalence.is_common(11)
    assert not prevalence.is_common(12)  # never seen


def test_a_template_used_mostly_by_suspicious_accounts_is_not_common() -> None:
    prevalence = TemplatePrevalence()
    for _ in range(5):
        prevalence.learn_one([7], suspicious=False)  # the campaign's first accounts, not yet suspicious
    for _ in range(20):
        prevalence.learn_one([7], suspicious=True)
    assert not prevalence.is_common(7)


def test_a_template_few_accounts_use_is_not_common() -> None:
    prevalence = TemplatePrevalence()
    prevalence.learn_one([3], suspicious=False)
    prevalence.learn_one([3], suspicious=False)
    assert not prevalence.is_common(3)


def test_the_table_stays_bounded_and_keeps_keys_that_keep_coming_back() -> None:
    prevalence = TemplatePrevalence(max_keys=100)
    for key in range(1_000, 3_000):
        prevalence.learn_one([key], suspicious=False)  # one-off phrasings
        if key % 25 == 0:
            prevalence.learn_one([1], suspicious=False)  # a phrasing everyone keeps using
    assert len(prevalence) <= 101
    assert prevalence.is_common(1)
    assert not prevalence.is_common(2_999)


_OWN_HALF_LIFE = 3 * 86_400.0  # the own usual's half-life (DETECTOR_BASELINE_HALF_LIFE_SECONDS)
_SHARE_MEMORY = 3_600.0  # the shares' own half-life (DETECTOR_HALF_LIFE_SECONDS)


def _account(name: str, scorings: int = 0, usual: float = -1.0) -> AccountState:
    """An account with ``scorings`` in its past and ``usual`` as its usual harvest share."""
    state = AccountState(name, None, 0.0)
    state.baseline_count = scorings
    state.own_harvest_baseline = usual
    state.own_shape_baseline = 0.0 if usual >= 0 else -1.0
    return state


def _score(state: AccountState, harvest_share: float, elapsed: float) -> None:
    """One scoring as the worker does it: counted, then folded into the usual."""
    state.baseline_count += 1
    features = {"harvest_call_share": harvest_share, "distillation_shape": 0.0}
    learn_own_shape(state, features, elapsed, _OWN_HALF_LIFE, _SHARE_MEMORY)


def test_a_busy_accounts_usual_does_not_follow_a_new_habit_within_hours() -> None:
    """Scored every 100 s for 6 hours with a new harvest share, a busy account with days of past
    (5,000 scorings) moves its own baseline (half-life 3 days) by about what 6 h of a 3-day
    half-life allows, not much more."""
    state = _account("router", scorings=5_000, usual=0.02)
    for _ in range(6 * 36):
        _score(state, 0.2, elapsed=100.0)
    expected_move = (0.2 - 0.02) * (1 - 0.5 ** (6 / 72))
    assert state.own_harvest_baseline - 0.02 < 1.5 * expected_move


def test_a_young_accounts_usual_is_what_it_has_done_since_it_began() -> None:
    """A quiet account whose first call happened not to harvest (a follow-up, a short answer) and
    that harvests most of the time since: its usual is its mean so far, not the first call's
    share held for days, so its steady habit is no shift against itself."""
    import random

    rng = random.Random(3)
    state = _account("power_user")
    shares = [0.0] + [0.85 + rng.uniform(-0.1, 0.1) for _ in range(40)]
    for share in shares:  # one scoring per call, ~40 min apart
        _score(state, share, elapsed=2_400.0)
    mean = sum(shares) / len(shares)
    assert abs(state.own_harvest_baseline - mean) < 0.05
    assert state.own_harvest_baseline > 0.75


def test_past_its_first_scorings_a_young_busy_accounts_usual_follows_slowly() -> None:
    """A router scored every 100 s is past its plain-mean start within its first hour: a crawler
    among its users an hour later moves its usual at the slow (time-weighted) rate, so the
    crawler's shift stays visible against it."""
    state = _account("router", scorings=USUAL_WARMUP_SCORINGS + 1, usual=0.03)
    for _ in range(36):
        _score(state, 0.2, elapsed=100.0)
    expected_move = (0.2 - 0.03) * (1 - 0.5 ** (1 / 72))
    assert state.own_harvest_baseline - 0.03 < 1.5 * expected_move


def test_an_idle_night_does_not_weigh_the_next_mornings_first_share() -> None:
    """An eval lab runs its benchmark a few hours a day. The first scoring of each day's run rests
    on one call (share 0 here); it weighs at most the shares' own hour, not the 20 idle hours
    before it, so a week of daily runs keeps the usual where the runs put it."""
    state = _account("eval_lab", scorings=USUAL_WARMUP_SCORINGS + 1, usual=0.3)
    for _day in range(7):
        _score(state, 0.0, elapsed=20 * 3_600.0)
        for _ in range(4 * 36):  # the run: four hours scored every 100 s at its usual share
            _score(state, 0.3, elapsed=100.0)
    assert state.own_harvest_baseline > 0.28


def _snapshot(**values: float) -> dict[str, float]:
    names = (*HST_FEATURES, "output_tokens_per_hour", "distillation_shape")
    return {name: values.get(name, 0.1) for name in names}


def test_peer_means_follow_what_the_population_learns_and_only_the_asked_signals() -> None:
    population = PopulationModel(
        n_trees=2, height=3, window_size=10, seed=1, peer_mean_signals=("distillation_shape",)
    )
    assert population.peer_means_now() == {"distillation_shape": 0.0}
    population.learn_one(_snapshot(distillation_shape=0.5))
    first = population.peer_means_now()
    assert set(first) == {"distillation_shape"} and first["distillation_shape"] > 0.0
    for _ in range(50):
        population.learn_one(_snapshot(distillation_shape=0.9))
    assert population.peer_means_now()["distillation_shape"] > first["distillation_shape"]
