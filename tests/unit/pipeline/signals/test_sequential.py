"""Lifetime evidence: ordinary accounts return to zero, persistent ones build up."""

from __future__ import annotations

import random

from detector.pipeline.signals import sequential


def test_evidence_below_the_allowance_never_builds() -> None:
    """An account whose evidence stays under the allowance (noise included) keeps S at 0."""
    rng = random.Random(1)
    cusum = sequential.new_cusum()
    for hour in range(24 * 14):
        sequential.update_one(cusum, rng.uniform(0.0, sequential.ALLOWANCE), 25, hour * 3600.0)
    assert sequential.statistic(cusum) == 0.0
    assert sequential.building_since(cusum) == -1.0


def test_persistent_modest_evidence_builds_and_says_since_when() -> None:
    """Evidence a little above the allowance at a person's pace reaches full strength in days."""
    cusum = sequential.new_cusum()
    for hour in range(72):
        sequential.update_one(cusum, sequential.ALLOWANCE + 1.5, 3, 1000.0 + hour * 3600.0)
    assert sequential.strength(cusum) == 1.0
    assert sequential.building_since(cusum) == 1000.0


def test_an_isolated_spike_fades() -> None:
    """One noisy window of a quiet account adds a bounded amount and decays away."""
    cusum = sequential.new_cusum()
    sequential.update_one(cusum, 50.0, 10, 0.0)
    assert sequential.statistic(cusum) == 10 * (sequential.CAP - sequential.ALLOWANCE)
    assert sequential.strength(cusum) == 0.0
    sequential.update_one(cusum, sequential.ALLOWANCE, 1, 2 * sequential.HALF_LIFE_SECONDS)
    assert sequential.statistic(cusum) < 0.3 * 10 * (sequential.CAP - sequential.ALLOWANCE)
